"""Synthesized assemblies shared by the whole test run, whatever the number of workers."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], Any]
) -> Path:
    """An assembly synthesized once per test run, shared by every xdist worker.

    The first worker to ask builds it under the run's temporary root while holding a
    lock; the others wait for it and reuse it. Nothing writes into an assembly after it
    is built (the local cloud unpacks code elsewhere), so sharing it is safe.
    """
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the workers' basetemps are siblings under one root
    target = root / f"assembly-{name}"
    with (root / f"assembly-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "built").exists():
            shutil.rmtree(target, ignore_errors=True)  # a build that failed part-way
            build(target / "cdk.out")
            (target / "built").touch()
    return target / "cdk.out"
