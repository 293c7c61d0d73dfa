"""Where a running `up` is: the state file it writes, which the other commands read.

`up` writes ``.local-cloud/state.json`` (its AWS endpoint, region, log directory) when it is
ready and removes it when it stops; beside it, ``status.txt`` holds the full status report.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from local_cloud.deploy.assembly import DEFAULT_REGION

STATE_FILE = ".local-cloud/state.json"
STATUS_FILE_NAME = "status.txt"
DEFAULT_AWS_PORT = 4566


def status_file(state_file: str | Path) -> Path:
    """The full status report `up` writes beside its state file."""
    return Path(state_file).parent / STATUS_FILE_NAME


def write_state(state_file: str | Path, aws_url: str, region: str, log_dir: Path | None) -> None:
    path = Path(state_file)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "aws_url": aws_url,
        "region": region,
        "pid": os.getpid(),
        "log_dir": str(log_dir.resolve()) if log_dir else None,
    }
    path.write_text(json.dumps(state), encoding="utf-8")


def read_state(state_file: str | Path) -> dict[str, Any]:
    """The running `up`'s state, or {} when none is running here."""
    try:
        state = json.loads(Path(state_file).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def clear_state(state_file: str | Path) -> None:
    Path(state_file).unlink(missing_ok=True)


def aws_url(state: dict[str, Any], host: str, port: int | None) -> str:
    """The AWS endpoint to talk to: the port asked for, else the running `up`'s, else 4566."""
    if port is not None:
        return f"http://{host}:{port}"
    return str(state.get("aws_url") or f"http://{host}:{DEFAULT_AWS_PORT}")


def region(state: dict[str, Any]) -> str:
    return str(state.get("region") or DEFAULT_REGION)
