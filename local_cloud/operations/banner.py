"""The ready banner: one screen of what runs, the lines to try, and one line of what is not
emulated (the full list is behind `python -m local_cloud status`).

The lines to try: a POST to the front door (the app's example body), an upload where a
bucket's notifications lead somewhere (the app's example file), a scan of a table, a peek
at each queue a topic delivers to, and the helper commands. It fits MAX_LINES: what runs
is cut to fewer lines per kind when the app has much to try.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from local_cloud.deploy.differences import summary
from local_cloud.operations.status import TABLE_TYPE, running_lines, shown_path
from local_cloud.operations.tryit import subscribed_queues, uploads
from local_cloud.services.edge import NOT_EMULATED as EDGE_NOT_EMULATED

if TYPE_CHECKING:
    from local_cloud.cloud import LocalCloud

DEFAULT_EXAMPLE_BODY = '{"hello": "world"}'
DEFAULT_EXAMPLE_FILE = "<file>"
PER_KIND = 3  # at most this many functions, mappings, tables, queues, uploads, peeks each
MAX_LINES = 30  # one screen
CREDENTIALS = "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"


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


def render(
    cloud: LocalCloud,
    example_body: str = DEFAULT_EXAMPLE_BODY,
    status_file: Path | None = None,
    example_file: str | None = None,
) -> str:
    """The banner, at most MAX_LINES lines: PER_KIND of each kind, fewer if need be."""
    shown_file = shlex.quote(example_file) if example_file else DEFAULT_EXAMPLE_FILE
    tries = _try_lines(cloud, example_body, shown_file, status_file)
    for limit in range(PER_KIND, 0, -1):
        text = _render(cloud, tries, limit)
        if len(text.splitlines()) <= MAX_LINES:
            break
    return text


def _render(cloud: LocalCloud, tries: list[str], limit: int) -> str:
    assert cloud.assembly is not None, "start() first"
    lines = [
        "",
        f"local cloud ready in {cloud.boot_seconds:.1f} s: {len(cloud.stack_outputs)} stacks "
        f"from {shown_path(cloud.assembly.directory)}, region {cloud.region}",
        *running_lines(cloud, limit=limit),
        *(f"  ! {name} failed to initialize: {error}" for name, error in cloud.warm_errors.items()),
        "",
        "try:",
        *tries,
        "",
        summary(cloud.differences),
        *([EDGE_NOT_EMULATED] if cloud.edge is not None else []),
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def _try_lines(
    cloud: LocalCloud, example_body: str, example_file: str, status_file: Path | None
) -> list[str]:
    lines = []
    if cloud.listener is not None:
        paths = cloud.listener.path_prefixes() or ["/"]
        lines.append(
            f"  curl -X POST {cloud.http_url}{paths[0]} -H 'Content-Type: application/json' "
            f"-d {shlex.quote(example_body)}"
        )
        post = (
            f"curl -s -o /dev/null -D - -X POST {cloud.http_url}{paths[0]} "
            f"-H 'Content-Type: application/json' -d {shlex.quote(example_body)}"
        )
        lines.append(
            f"  curl -s {cloud.http_url}\"$({post} | sed -n 's/^[Ll]ocation: *//p' "
            "| tr -d '\\r')\"    # POST, then GET the Location the 202 names"
        )
    if cloud.edge is not None and cloud.listener is not None:
        paths = cloud.listener.path_prefixes() or ["/"]
        lines.append(
            f"  curl -X POST {cloud.edge_url}{paths[0]} -H 'Content-Type: application/json' "
            f"-d {shlex.quote(example_body)}    # through the edge"
        )
    aws = f"{_command('aws')} --endpoint-url {cloud.aws_url}"
    aws_lines = [
        f"  {aws} s3 cp {example_file} {upload.destination(example_file)}    # -> {upload.target}"
        for upload in uploads(cloud)[:PER_KIND]
    ]
    tables = cloud.resources(TABLE_TYPE)
    if tables:
        aws_lines.append(f"  {aws} dynamodb scan --table-name {tables[0]}")
    aws_lines += [
        f"  {aws} sqs receive-message --queue-url {queue.queue_url} --visibility-timeout 0 "
        f"--max-number-of-messages 10 --query 'Messages[].Body' --output text"
        f"    # what {queue.topic} delivered"
        for queue in subscribed_queues(cloud)[:PER_KIND]
    ]
    if aws_lines:
        lines += [
            f"  export {CREDENTIALS} AWS_DEFAULT_REGION={cloud.region}"
            "    # for the aws lines (the emulation takes any credentials)",
            *aws_lines,
        ]
    python = _command("python")
    written = f" (also in {shown_path(status_file)})" if status_file else ""
    lines += [
        f"  {python} -m local_cloud orders    # every table's items; also: dlq, redrive, faults",
        f"  {python} -m local_cloud status    # all of this in full, queue depths{written}",
    ]
    return lines


def example_body_or_default(text: str | None) -> str:
    if not text:
        return DEFAULT_EXAMPLE_BODY
    json.loads(text)  # fail early on a body that is not JSON
    return text
