"""The large-file path on the local cloud: the Fargate task's lines/s against the function's.

The app is synthesized with the large-file path on and ``large_file_bytes`` lowered (as
tests/e2e/test_large_files.py does), so a file of a few hundred kilobytes is "large", and
booted on the local cloud, where RunTask starts the task's command as a local process.
The same JSON Lines go in twice: once as one file over the limit (the file function hands
it to the task) and once split into files under it (each read by the file function),
timed from the first upload until every object is under ``processed/``. The floor is the
function path, measured on the same emulator in the same run: the row says how much
faster (or slower) a large file goes by the task than the same lines by the function.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from benchmarks.report import Figure, Row, Section
from benchmarks.runtime import ROOT
from benchmarks.synth import context
from local_cloud.cloud import LocalCloud
from tests.e2e.large_file_lines import CUSTOMERS, lines, rejected

LARGE_FILE_BYTES = 20_000  # as the e2e test: a 60-line file is the function's, more is not
LINES_PER_SMALL_FILE = 60  # about 9 KB each
POLL_S = 0.1


def synthesize(out: Path) -> Path:
    """The dev app with ``large_files_enabled`` and a small ``large_file_bytes``."""
    settings = {
        **json.loads(context()),
        "large_files_enabled": True,
        "large_file_bytes": LARGE_FILE_BYTES,
    }
    environment = {
        **os.environ,
        "CDK_OUTDIR": str(out),
        "CDK_CONTEXT_JSON": json.dumps(settings),
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=environment, check=True, capture_output=True
    )
    return out


def _upload(cloud: LocalCloud, key: str, body: str) -> None:
    bucket = cloud.outputs["OrderFilesBucketName"]
    cloud.client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode())


def _count(cloud: LocalCloud, prefix: str) -> int:
    bucket = cloud.outputs["OrderFilesBucketName"]
    answer = cloud.client("s3").list_objects_v2(Bucket=bucket, Prefix=prefix)
    return len(answer.get("Contents", []))


def _until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not within {timeout:.0f} s")
        time.sleep(POLL_S)


def timed_upload(cloud: LocalCloud, stem: str, files: dict[str, str]) -> float:
    """Seconds from the first upload of ``incoming/<stem><name>`` for each ``files`` name
    until every one is under ``processed/<stem>``."""
    started = time.perf_counter()
    for name, body in files.items():
        _upload(cloud, f"incoming/{stem}{name}", body)
    _until(
        lambda: _count(cloud, f"processed/{stem}") >= len(files),
        300,
        f"{len(files)} file(s) under processed/{stem}",
    )
    return time.perf_counter() - started


def run(work: Path, *, count: int = 1_200) -> Section:
    assembly = synthesize(work / "large-files.out")
    run_id = uuid.uuid4().hex[:6]
    with (
        tempfile.TemporaryDirectory(prefix="bench-large-") as tmp,
        LocalCloud(assembly, http_port=0, aws_port=0, log_dir=Path(tmp) / "logs") as cloud,
    ):
        tasks = cloud.tasks
        if tasks is None or not tasks.images:
            raise RuntimeError("the large-files assembly has no task the local cloud can run")
        # Warm: the S3 -> EventBridge -> function path once, with one small file.
        warm = "\n".join(lines(f"W{run_id}", 5)) + "\n"
        timed_upload(cloud, f"bench-{run_id}/warm", {".jsonl": warm})

        large = "\n".join(lines(f"L{run_id}", count)) + "\n"
        if len(large.encode()) <= LARGE_FILE_BYTES:
            raise RuntimeError("the large file is not over large_file_bytes")
        task_s = timed_upload(cloud, f"bench-{run_id}/large", {".jsonl": large})
        if not tasks.wait(60):
            raise RuntimeError("the large-file task did not stop")
        codes = [task.exit_code for task in tasks.tasks.values()]
        if codes != [0]:
            raise RuntimeError(f"expected one task exiting 0, got exit codes {codes}")

        small = lines(f"S{run_id}", count)
        files = {
            f"{index:03d}.jsonl": "\n".join(small[start : start + LINES_PER_SMALL_FILE]) + "\n"
            for index, start in enumerate(range(0, count, LINES_PER_SMALL_FILE))
        }
        if max(len(body.encode()) for body in files.values()) > LARGE_FILE_BYTES:
            raise RuntimeError("a small file is over large_file_bytes")
        function_s = timed_upload(cloud, f"bench-{run_id}/small-", files)
        if len(tasks.tasks) != 1:
            raise RuntimeError("a small file went to a task")
        boot = cloud.boot_seconds
    large_kb = len(large.encode()) / 1000
    row = Row(
        "large files",
        f"task path: lines/s, {count:,} lines in one {large_kb:.0f} kB file (local process)",
        Figure(count / task_s, "lines"),
        Figure(count / function_s, "lines"),
        f"function path: the same lines in {len(files)} files of {LINES_PER_SMALL_FILE}",
    )
    notes = (
        "The dev assembly with `large_files_enabled=true` and `large_file_bytes="
        f"{LARGE_FILE_BYTES:,}` (synthesized for this section) booted on the local cloud "
        f"({boot:.0f} s), where RunTask starts the task's command as a local process (a "
        "new Python each time; no image pull, no Fargate start). One 5-line file first, "
        "to warm the S3 -> EventBridge -> file function path. Then the same "
        f"{count:,} JSON Lines (tests/e2e/test_large_files.py's mix: {CUSTOMERS} "
        f"customers, {rejected(count)} lines rejected) go in twice: as one file over the "
        "limit, which the file function hands to the task "
        f"({task_s:.1f} s), and as {len(files)} files of {LINES_PER_SMALL_FILE} lines, "
        "uploaded together, each read by the file function "
        f"({function_s:.1f} s); each timed from the first upload until every object is "
        f"under `processed/` (listed every {POLL_S * 1000:.0f} ms). The function path's "
        "lines/s is the floor, so a ratio above 1 means the task path is the faster of the "
        "two for these lines; one measurement each.",
    )
    return Section("Large files", (row,), notes)
