"""The ready banner: one screen of what runs, the lines to try, and one line of what is not
emulated (the full list is behind `python -m local_cloud status`)."""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from local_cloud.deploy.differences import summary
from local_cloud.operations.status import TABLE_TYPE, running_lines, shown_path
from local_cloud.services.edge import NOT_EMULATED as EDGE_NOT_EMULATED

if TYPE_CHECKING:
    from local_cloud.cloud import LocalCloud

DEFAULT_EXAMPLE_BODY = '{"hello": "world"}'
PER_KIND = 3  # at most this many functions, mappings, tables, queues each


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
    cloud: LocalCloud, example_body: str = DEFAULT_EXAMPLE_BODY, status_file: Path | None = None
) -> str:
    assert cloud.assembly is not None, "start() first"
    lines = [
        "",
        f"local cloud ready in {cloud.boot_seconds:.1f} s: {len(cloud.stack_outputs)} stacks "
        f"from {shown_path(cloud.assembly.directory)}, region {cloud.region}",
        *running_lines(cloud, limit=PER_KIND),
        *(f"  ! {name} failed to initialize: {error}" for name, error in cloud.warm_errors.items()),
        "",
        "try:",
    ]
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
    tables = cloud.resources(TABLE_TYPE)
    if tables:
        credentials = "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test"
        lines += [
            f"  {credentials} AWS_DEFAULT_REGION={cloud.region} \\",
            f"    {_command('aws')} --endpoint-url {cloud.aws_url} dynamodb scan "
            f"--table-name {tables[0]}",
        ]
    python = _command("python")
    written = f" (also in {shown_path(status_file)})" if status_file else ""
    lines += [
        f"  {python} -m local_cloud orders    # every table's items; also: dlq, redrive, faults",
        f"  {python} -m local_cloud status    # all of this in full, queue depths{written}",
        "",
        summary(cloud.differences),
        *([EDGE_NOT_EMULATED] if cloud.edge is not None else []),
        "",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def example_body_or_default(text: str | None) -> str:
    if not text:
        return DEFAULT_EXAMPLE_BODY
    json.loads(text)  # fail early on a body that is not JSON
    return text
