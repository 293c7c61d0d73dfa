"""boto3 clients for the emulation: fake credentials, its endpoint, path-style S3.

Creating a boto3 client from a new session reads botocore's JSON data again (the endpoint
rules, the service model): about 40 ms of CPU each time. The runner's threads and the tests
ask for clients in loops, so every session here shares one botocore data loader (JSON read
once per process), and ``client`` hands out one client per service, endpoint and region.
boto3 clients are thread-safe; sessions are not, so each ``session()`` is a new one.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

ACCOUNT_ID = "123456789012"  # moto's default account
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

# The runner's pollers, invokers and front doors share these clients across threads.
MAX_POOL_CONNECTIONS = 32

_LOADER = botocore.loaders.create_loader()
_CLIENTS: dict[tuple[str, str, str], Any] = {}
_LOCK = threading.Lock()


def session(region: str) -> boto3.Session:
    """A session that can never reach a real account: fixed fake credentials."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _LOADER)
    return boto3.Session(region_name=region, botocore_session=core, **FAKE_CREDENTIALS)


def client(service: str, endpoint_url: str, region: str) -> Any:
    """The (shared, thread-safe) client of ``service`` at the emulation's endpoint."""
    key = (service, endpoint_url, region)
    with _LOCK:
        found = _CLIENTS.get(key)
        if found is None:
            found = _CLIENTS[key] = session(region).client(
                service,
                endpoint_url=endpoint_url,
                config=Config(
                    s3={"addressing_style": "path"},
                    retries={"mode": "standard", "max_attempts": 3},
                    connect_timeout=5,
                    read_timeout=30,
                    max_pool_connections=MAX_POOL_CONNECTIONS,
                ),
            )
        return found


def forget_clients(endpoint_url: str) -> None:
    """Drop the clients of an emulation that stopped (their connections with them)."""
    with _LOCK:
        for key in [k for k in _CLIENTS if k[1] == endpoint_url]:
            _CLIENTS.pop(key).close()
