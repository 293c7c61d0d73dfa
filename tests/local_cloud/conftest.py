"""Fixtures: the sample app synthesized once per session, and a LocalCloud running it."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_cloud.cloud import LocalCloud
from tests import polling
from tests.assemblies import built_once
from tests.local_cloud.sample_app.app import synth


@pytest.fixture(scope="session")
def sample_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample CDK app, synthesized in-process (no CLI, no Docker, no credentials)."""
    return built_once(tmp_path_factory, "sample", lambda outdir: synth(str(outdir)))


@pytest.fixture(scope="module")
def cloud(sample_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    logs = tmp_path_factory.mktemp("logs")
    with LocalCloud(
        sample_assembly,
        http_port=0,
        aws_port=0,
        edge_port=0,
        log_dir=logs,
        async_retry_scale=0.01,
    ) as running:
        yield running


def wait_for(predicate: Callable[[], Any], timeout: float = 20.0, interval: float = 0.2) -> Any:
    """The shared poller, with this tier's shorter defaults."""
    return polling.wait_for(predicate, timeout, interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int) -> bool:
    """Nothing listens there and a server could bind it again (as servers do, with
    SO_REUSEADDR: closed connections may linger in TIME_WAIT)."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
