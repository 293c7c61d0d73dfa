"""What the zygote tests run in forked children: a small module, since each child imports it."""

from __future__ import annotations

import multiprocessing
import os
import random
import sys
import time
from multiprocessing.connection import Connection


def report(conn: Connection) -> None:
    me = multiprocessing.current_process()
    conn.send(
        {
            "variable": os.environ.get("ZYGOTE_TEST"),
            "cwd": os.getcwd(),
            "path": list(sys.path),
            "argv": list(sys.argv),
            "random": random.getrandbits(64),
            "process": (me.name, me.daemon),
        }
    )


def exit_with(code: object) -> None:
    sys.exit(code)


def fail() -> None:
    raise ValueError("broken on purpose")


def say(text: str) -> None:
    print(text, flush=True)


def hold(conn: Connection) -> None:
    """Keep conn's end open: its reader sees EOF only when this process has gone."""
    while conn:
        time.sleep(60)


def count_moto_backends(conn: Connection) -> None:
    from moto.core.base_backend import BackendDict  # noqa: PLC0415 - emulation zygote only

    conn.send(len(BackendDict._instances))


def parsed_service_models(conn: Connection) -> None:
    """(the services moto had parsed a model of when this child started, those the zygote
    was to parse): counted before the module is imported here, where a zygote that had
    not imported it would only now parse them."""
    from moto.core.utils import get_service_model  # noqa: PLC0415 - emulation zygote only

    parsed = get_service_model.cache_info().currsize
    from local_cloud.services import moto_models  # noqa: PLC0415

    conn.send((parsed, len(moto_models.SERVICES)))
