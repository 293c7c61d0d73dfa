"""The ready banner: where to send requests, what was deployed, what is not emulated."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

from local_cloud.cloud import LocalCloud

TABLE_TYPE = "AWS::DynamoDB::Table"
QUEUE_TYPE = "AWS::SQS::Queue"
DEFAULT_EXAMPLE_BODY = '{"hello": "world"}'


def _command(name: str) -> str:
    """How to run `name` from another terminal in this directory.

    The copy beside the running Python (a virtualenv's) first: `make` puts the venv on
    PATH, but the terminal the reader pastes into may not have it.
    """
    beside = Path(sys.executable).parent / name
    if beside.exists():
        try:
            return os.path.relpath(beside)
        except ValueError:  # another drive (Windows)
            return str(beside)
    return name


def _label(cloud: LocalCloud, physical_id: str) -> str:
    keys = [k for k, v in cloud.outputs.items() if v == physical_id and "Exports" not in k]
    return f" (output {keys[0]})" if keys else ""


def render(cloud: LocalCloud, example_body: str = DEFAULT_EXAMPLE_BODY) -> str:
    assert cloud.deployment is not None
    assert cloud.assembly is not None
    deployment = cloud.deployment
    lines = [
        "",
        f"local cloud ready in {cloud.boot_seconds:.1f} s: "
        f"{len(deployment.stacks)} stacks from {cloud.assembly.directory}, region {cloud.region}",
        "",
    ]
    if cloud.listener is not None:
        paths = cloud.listener.path_prefixes() or ["/"]
        url = cloud.http_url + paths[0]
        lines += [
            f"load balancer (listener {cloud.listener.protocol}:{cloud.listener.port}) on "
            f"{cloud.http_url}",
            *[f"  forwards {cloud.http_url}{p}" for p in paths],
            "  try:",
            f"  curl -X POST {url} -H 'Content-Type: application/json' "
            f"-d {shlex.quote(example_body)}",
        ]
    else:
        lines.append("no load balancer listener in the assembly: no front door")
    lines += ["", f"AWS API on {cloud.aws_url} (any credentials work)"]
    credentials = (
        f"AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION={cloud.region}"
    )
    for table in cloud.resources(TABLE_TYPE):
        lines += [
            f"  table {table}{_label(cloud, table)}",
            f"    {credentials} \\",
            f"      {_command('aws')} --endpoint-url {cloud.aws_url} dynamodb scan "
            f"--table-name {table}",
        ]
    if cloud.resources(TABLE_TYPE):
        port = cloud.aws_url.rsplit(":", 1)[1]
        lines.append(f"    or: {_command('python')} -m local_cloud orders --aws-port {port}")
    for queue in cloud.resources(QUEUE_TYPE):
        lines.append(f"  queue {queue.rsplit('/', 1)[-1]}{_label(cloud, queue)}")
    for mapping in cloud.mappings:
        lines.append(
            f"  mapping {mapping.queue_name} -> {mapping.function_name}: batch "
            f"{mapping.batch_size}, window {mapping.batching_window_s:g} s, "
            f"report failures {'on' if mapping.report_batch_item_failures else 'off'}"
        )
    lines.append("")
    for spec in cloud.functions.specs.values():
        where = f", logs {spec.log_path}" if spec.log_path else ""
        lines.append(f"function {spec.name}: {spec.handler} from {Path(spec.code_dir).name}{where}")
    for name, error in cloud.warm_errors.items():
        lines.append(f"  ! {name} failed to initialize: {error}")

    notes = [
        *(
            f"{o.stack_name}/{o.logical_id} ({o.resource_type}): {o.reason}"
            for o in deployment.omissions
        ),
        *(f"output {o} dropped: it reads a left-out resource" for o in deployment.dropped_outputs),
        *deployment.stand_ins,
        *cloud.functions.notes,
        *deployment.patches,
    ]
    if cloud.fault_rate:
        notes.append(
            f"fault injection: {cloud.fault_rate:.0%} of DynamoDB writes answer "
            "ProvisionedThroughputExceededException"
        )
    if notes:
        lines += ["", "not emulated / emulated differently:"]
        lines += [f"  - {n}" for n in notes]
    lines += ["", "Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def example_body_or_default(text: str | None) -> str:
    if not text:
        return DEFAULT_EXAMPLE_BODY
    json.loads(text)  # fail early on a body that is not JSON
    return text
