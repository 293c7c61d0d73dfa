"""End-to-end fixtures: the real app's assembly and the local cloud running it.

The assembly is synthesized the way the CDK CLI runs the app (cdk.json's context in
CDK_CONTEXT_JSON, a fresh CDK_OUTDIR), so the tests never depend on a stale cdk.out. Set
E2E_ASSEMBLY to use an existing assembly instead.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_cloud.cloud import LocalCloud
from local_cloud.operations import orders, queues
from tests.assemblies import built_once
from tests.e2e.ledger import ALERT_EMAIL

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def app_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if os.environ.get("E2E_ASSEMBLY"):
        return Path(os.environ["E2E_ASSEMBLY"])
    return built_once(tmp_path_factory, "app", synth_app)


@pytest.fixture(scope="session")
def ledger_assembly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The app as `make local` synthesizes it, with an e-mail subscribed to the alerts."""
    return built_once(
        tmp_path_factory, "ledger", lambda out: synth_app(out, alert_email=ALERT_EMAIL)
    )


def synth_app(outdir: Path, **settings: Any) -> Path:
    """Synthesize the app (dev stage) with cdk.json's context and these settings over it."""
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    env = {
        **os.environ,
        "CDK_OUTDIR": str(outdir),
        "CDK_CONTEXT_JSON": json.dumps({**context, "stage": "dev", **settings}),
    }
    done = subprocess.run(
        [sys.executable, "app.py"],
        check=False,  # the assertion below shows the app's own error
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return outdir


def boot(
    assembly: Path, logs: Path, fault_rate: float = 0.0, async_retry_scale: float = 1.0
) -> LocalCloud:
    return LocalCloud(
        assembly,
        http_port=0,
        aws_port=0,
        edge_port=0,
        fault_rate=fault_rate,
        fault_seed=42,
        log_dir=logs,
        async_retry_scale=async_retry_scale,
    )


@pytest.fixture(scope="module")
def cloud(app_assembly: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    with boot(app_assembly, tmp_path_factory.mktemp("logs")) as running:
        yield running


def post(cloud: LocalCloud, path: str, body: Any, content_type: str = "application/json"):
    """POST to the front door; returns (status, headers, parsed JSON body or raw bytes)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        cloud.http_url + path, data=data, method="POST", headers={"Content-Type": content_type}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status, headers, raw = response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        status, headers, raw = error.code, dict(error.headers), error.read()
    try:
        return status, headers, json.loads(raw)
    except ValueError:
        return status, headers, raw


def table_items(cloud: LocalCloud) -> list[dict[str, Any]]:
    return orders.table_items(cloud.client("dynamodb"), cloud.outputs["OrdersTableName"])


def stored_keys(cloud: LocalCloud) -> set[tuple[str, str]]:
    return {(i["order_id"], i["item"]) for i in table_items(cloud)}


def queue_depth(cloud: LocalCloud, queue_url: str) -> int:
    return queues.queue_depth(cloud.client("sqs"), queue_url)
