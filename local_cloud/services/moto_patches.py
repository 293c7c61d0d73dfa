"""What moto needs changed in the emulation process (each change is listed in README.md).

Applied in the emulation process only, before moto's server starts: the runner's own
process never imports moto's backends.
"""

from __future__ import annotations

import time
from typing import Any


class _NoEventSourceMappings:
    """Replaces moto's per-queue mapping dict with one that is always empty.

    On SendMessage moto itself receives from a queue that has a mapping and invokes the
    function through Docker (moto/sqs/models.py, ``lambda_event_source_mappings``). There is
    no Docker engine here, and those receives would steal messages from the runner, which
    is the only consumer: the mappings still exist in the Lambda backend
    (ListEventSourceMappings), only moto's own delivery is switched off.
    """

    def __get__(self, instance: object, owner: type | None = None) -> dict[str, Any]:
        return {}

    def __set__(self, instance: object, value: object) -> None:
        pass


def disable_moto_sqs_delivery() -> None:
    """Patch moto's SQS queues so moto never consumes messages for a mapping."""
    from moto.sqs.models import Queue  # noqa: PLC0415 - moto loads only in the emulation process

    Queue.lambda_event_source_mappings = _NoEventSourceMappings()  # type: ignore[assignment]


def speed_up_moto_sqs_clock() -> None:
    """Give moto's SQS a cheap clock: it reads it for every message on every call.

    moto computes each message's visibility from ``unix_time_millis()``, which builds two
    datetimes per call, and scans the whole queue on every send and receive: with 1,500
    messages queued a ReceiveMessage took 1.3 s, a SendMessageBatch 0.3 s (measured here).
    ``time.time()`` gives the same value (seconds since the epoch, UTC) about ten times
    faster; calls with an explicit datetime keep moto's own conversion.
    """
    import moto.sqs.models as sqs_models  # noqa: PLC0415 - emulation process only

    unix_time = sqs_models.unix_time  # type: ignore[attr-defined]
    unix_time_millis = sqs_models.unix_time_millis  # type: ignore[attr-defined]

    def fast_unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(unix_time(dt))

    def fast_unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(unix_time_millis(dt))

    sqs_models.unix_time = fast_unix_time  # type: ignore[attr-defined]
    sqs_models.unix_time_millis = fast_unix_time_millis  # type: ignore[attr-defined]


def apply_moto_patches() -> None:
    disable_moto_sqs_delivery()
    speed_up_moto_sqs_clock()
