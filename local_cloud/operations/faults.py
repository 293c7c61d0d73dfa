"""`faults`: show or change the running emulation's DynamoDB write faults."""

from __future__ import annotations

import json
import sys
from typing import Any

from local_cloud.services.faults import request_faults


def print_faults(aws_url: str, rate: float | None, match: str | None, clear_match: bool) -> int:
    change: dict[str, Any] = {}
    if rate is not None:
        change["rate"] = rate
    if match is not None:
        change["match"] = match
    if clear_match:
        change["match"] = None
    try:
        state = request_faults(aws_url, change or None)
    except OSError as exc:
        print(f"cannot reach the local cloud on {aws_url}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(state))
    return 0
