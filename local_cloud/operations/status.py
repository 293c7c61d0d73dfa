"""`status`: everything about a running local cloud, in full.

`up` writes the report (what runs, and every way it differs from the assembly) to
``.local-cloud/status.txt`` when it is ready; `status` prints it with what changes while it
runs (fault injection, queue depths). The banner is its one-screen digest.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from local_cloud.aws import client
from local_cloud.deploy.differences import full_list
from local_cloud.operations.state import read_state, status_file
from local_cloud.services.faults import request_faults

if TYPE_CHECKING:
    from local_cloud.cloud import LocalCloud

TABLE_TYPE = "AWS::DynamoDB::Table"
QUEUE_TYPE = "AWS::SQS::Queue"
STATUS_COMMAND = "python -m local_cloud status"


def shown_path(path: str | Path) -> str:
    """A path as the reader would type it from here: relative when under this directory."""
    absolute = Path(path).resolve()
    try:
        return str(absolute.relative_to(Path.cwd()))
    except ValueError:
        return str(absolute)


def _output_of(cloud: LocalCloud, physical_id: str) -> str:
    keys = [k for k, v in cloud.outputs.items() if v == physical_id and "Exports" not in k]
    return f" (output {keys[0]})" if keys else ""


def _capped(label: str, items: list[str], limit: int | None) -> list[tuple[str, str]]:
    shown = items if limit is None or len(items) <= limit else items[: limit - 1]
    rows = [(label, item) for item in shown]
    if len(shown) < len(items):
        rows.append((label, f"... and {len(items) - len(shown)} more ({STATUS_COMMAND})"))
    return rows


def running_lines(cloud: LocalCloud, limit: int | None = None) -> list[str]:
    """What runs, one line each; with a limit, at most that many lines per kind."""
    rows: list[tuple[str, str]] = []
    if cloud.listener is not None:
        listener = cloud.listener
        paths = ", ".join(listener.path_prefixes()) or "/"
        drops = (
            ", drops invalid header fields"
            if limit is None and listener.drop_invalid_header_fields
            else ""
        )
        rows.append(
            (
                "front door",
                f"{cloud.http_url} (listener {listener.protocol}:{listener.port}{drops}) "
                f"forwards {paths}",
            )
        )
    else:
        rows.append(("front door", "none: the assembly has no load balancer listener"))
    if cloud.edge is not None:
        edge = cloud.edge
        functions_at_edge = sorted(
            {
                arn.rsplit(":", 1)[-1]
                for b in edge.behaviors
                for arn in (b.viewer_request, b.viewer_response)
                if arn
            }
        )
        rows.append(
            (
                "edge door",
                f"{cloud.edge_url} (CloudFront {edge.logical_id}: "
                f"{', '.join(functions_at_edge) or 'no functions'} -> front door)",
            )
        )
    rows.append(("AWS API", f"{cloud.aws_url} (any credentials work)"))
    functions = []
    providers = cloud.deployment.providers if cloud.deployment is not None else set()
    # the app's own functions first; custom resources' providers after them
    for spec in sorted(cloud.functions.specs.values(), key=lambda s: s.name in providers):
        text = f"{spec.name}: {spec.handler}"
        if spec.name in providers:
            text += " (a custom resource's provider)"
        if limit is None:
            text += (
                f" from {spec.code_dir}, {len(spec.layer_dirs)} asset layers, "
                f"timeout {spec.timeout_s:g} s, memory {spec.memory_mb} MB"
            )
        functions.append(text)
    rows += _capped("function", functions, limit)
    mappings = [
        f"{m.queue_name} -> {m.function_name}: batch {m.batch_size}, window "
        f"{m.batching_window_s:g} s, report failures "
        + ("on" if m.report_batch_item_failures else "off")
        for m in cloud.mappings
    ]
    mappings += [
        f"{m.table_name} stream -> {m.function_name}: batch {m.batch_size}, window "
        f"{m.batching_window_s:g} s, retries "
        + ("unlimited" if m.maximum_retry_attempts < 0 else str(m.maximum_retry_attempts))
        + (", bisect" if m.bisect else "")
        + (", report failures" if m.report_batch_item_failures else "")
        + (f", {len(m.filters)} filters" if m.filters else "")
        for m in cloud.stream_mappings
    ]
    rows += _capped("mapping", mappings, limit)
    tables = [f"{t}{_output_of(cloud, t)}" for t in cloud.resources(TABLE_TYPE)]
    rows += _capped("table", tables, limit)
    queues = [f"{q.rsplit('/', 1)[-1]}{_output_of(cloud, q)}" for q in cloud.resources(QUEUE_TYPE)]
    rows += _capped("queue", queues, limit)
    if cloud.log_dir is not None:
        rows.append(("logs", f"{shown_path(cloud.log_dir)}/<function name>.log"))
    if cloud.fault_rate:
        rows.append(
            (
                "faults",
                f"{cloud.fault_rate:.0%} of DynamoDB writes answer "
                "ProvisionedThroughputExceededException",
            )
        )
    return [f"  {label:<11} {text}" for label, text in rows]


def status_report(cloud: LocalCloud) -> str:
    """The full report `up` writes when it is ready."""
    assert cloud.assembly is not None, "start() first"
    differences = cloud.differences
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = [
        f"local cloud: {len(cloud.stack_outputs)} stacks from {cloud.assembly.directory}, "
        f"region {cloud.region} (ready at {stamp}, pid {os.getpid()})",
        "",
        "what runs:",
        *running_lines(cloud),
        *(f"  ! {name} failed to initialize: {error}" for name, error in cloud.warm_errors.items()),
        "",
        f"not emulated, or emulated differently ({len(differences)}):",
        *(full_list(differences) or ["  nothing"]),
    ]
    return "\n".join(lines) + "\n"


def write_status(state_file: str | Path, cloud: LocalCloud) -> Path:
    path = status_file(state_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(status_report(cloud), encoding="utf-8")
    return path


def live_lines(aws_url: str, region: str) -> list[str]:
    """What changes while the cloud runs: fault injection and queue depths."""
    faults = request_faults(aws_url)
    lines = [
        "live:",
        f"  faults      rate {faults['rate']:g}, match {faults['match'] or 'none'}: "
        f"{faults['injected']} writes failed so far",
    ]
    sqs = client("sqs", aws_url, region)
    for url in sqs.list_queues().get("QueueUrls", []):
        attributes = sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        lines.append(
            f"  queue       {url.rsplit('/', 1)[-1]}: "
            f"{attributes['ApproximateNumberOfMessages']} waiting, "
            f"{attributes['ApproximateNumberOfMessagesNotVisible']} in flight"
        )
    return lines


def print_status(state_file: str | Path, aws_url: str, region: str) -> int:
    report = status_file(state_file)
    if not read_state(state_file):
        print(f"no local cloud is running here (no {state_file})", file=sys.stderr)
        if report.exists():
            print(f"the last one's report is in {report}", file=sys.stderr)
        return 1
    print(report.read_text(encoding="utf-8"))
    try:
        print("\n".join(live_lines(aws_url, region)))
    except OSError as exc:
        print(f"cannot reach the local cloud on {aws_url}: {exc}", file=sys.stderr)
        return 1
    return 0
