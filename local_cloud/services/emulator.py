"""The AWS API emulation: moto's server app in its own process, behind the fault injector.

Its own process keeps moto's global state away from the runner and from anything else that
uses moto in the same interpreter (unit tests with ``mock_aws`` reset every backend).

The process is forked from a zygote (services/zygote.py) that has imported moto's server
and the modules the patches change (``PRELOAD``), but has never served a request: no
backend exists there, so every emulation starts with fresh moto state, and its patches are
applied in the emulation as before. It gets the runner's current os.environ, as a spawned
process did. moto's own random generator, seeded when moto was imported, is reseeded in
each emulation so that two of them never hand out the same ids.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import sys
import warnings
from dataclasses import dataclass
from types import FrameType

from local_cloud.services.control import Control
from local_cloud.services.custom_resources import (
    CustomResourceAnswers,
    answer_custom_resources_here,
)
from local_cloud.services.evaluate import Evaluator
from local_cloud.services.faults import FaultInjector
from local_cloud.services.moto_patches import apply_moto_patches
from local_cloud.services.zygote import ChildProcess, get_zygote, start_process

READY_TIMEOUT_S = 60.0
# What an emulation imports before it serves: moto's server, the runner's wrappers around it,
# and the moto modules apply_moto_patches changes. Imported only (no backend is created by an
# import); one missing here is imported by the emulation itself, as before.
PRELOAD = (
    "moto.moto_server.werkzeug_app",
    "werkzeug.serving",
    "local_cloud.services.control",
    "local_cloud.services.custom_resources",
    "local_cloud.services.evaluate",
    "local_cloud.services.faults",
    "local_cloud.services.keepalive",
    "local_cloud.services.moto_patches",
    "moto.awslambda.models",
    "moto.awslambda.responses",
    "moto.cloudformation.models",
    "moto.cloudformation.parsing",
    "moto.dynamodb.comparisons",
    "moto.dynamodb.models.table",
    "moto.dynamodb.parsing.tokens",
    "moto.dynamodb.responses",
    "moto.dynamodbstreams.models",
    "moto.ec2.models",
    "moto.ecs.models",
    "moto.elbv2.models",
    "moto.events.models",
    "moto.events.utils",
    "moto.kms.models",
    "moto.s3.models",
    "moto.sns.models",
    "moto.sqs.models",
    "moto.sqs.responses",
    "local_cloud.services.moto_models",  # parses the emulated services' models, once
)


def _serve(  # noqa: PLR0917 - a multiprocessing target takes its args positionally
    host: str,
    port: int,
    fault_rate: float,
    fault_seed: int | None,
    hook_url: str | None,
    conn: multiprocessing.connection.Connection,
) -> None:  # pragma: no cover - runs in the child process
    try:
        from moto.moto_api._internal import mock_random  # noqa: PLC0415
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415 - emulation process only
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server  # noqa: PLC0415

        from local_cloud.services.keepalive import keep_alive  # noqa: PLC0415

        mock_random.seed()  # seeded at import: in the zygote, once for every emulation
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per AWS call is noise
        # skipped types are reported in the banner instead; crashes still print a traceback
        logging.getLogger("moto").setLevel(logging.ERROR)
        warnings.filterwarnings("ignore", module=r"moto\..*")
        apply_moto_patches(hook_url)
        moto_app = CustomResourceAnswers(DomainDispatcherApplication(create_backend_app))
        app = FaultInjector(Evaluator(Control(moto_app)), fault_rate, fault_seed)
        handler = keep_alive(MotoRequestHandler)  # one connection for many calls
        server = make_server(host, port, app, threaded=True, request_handler=handler)
        answer_custom_resources_here(host, server.server_port)
    except Exception as exc:
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return

    def stop(_signum: int, _frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when to stop
    conn.send(("ready", server.server_port))
    try:
        server.serve_forever(poll_interval=0.2)
    except SystemExit:
        pass
    finally:
        server.server_close()
        sys.exit(0)


@dataclass
class Emulator:
    """A running emulation process; ``url`` is its endpoint."""

    process: ChildProcess
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout)


def start_emulator(
    host: str = "127.0.0.1",
    port: int = 0,
    fault_rate: float = 0.0,
    fault_seed: int | None = None,
    hook_url: str | None = None,
) -> Emulator:
    """Start moto's server (port 0 picks a free port) and wait until it accepts requests.

    With hook_url, every Lambda invocation moto makes goes to the runner's hook there
    (services/invocations.py); without it moto's own (Docker) invoke stays.
    """
    if not 0.0 <= fault_rate <= 1.0:
        raise ValueError(f"fault rate must be between 0 and 1, got {fault_rate}")
    parent, child = multiprocessing.Pipe(duplex=False)
    process = start_process(
        _serve,
        (host, port, fault_rate, fault_seed, hook_url, child),
        name="local-cloud-aws",
        zygote=get_zygote("emulation", PRELOAD, sys.path),
    )
    child.close()
    if not parent.poll(READY_TIMEOUT_S):
        process.kill()
        raise RuntimeError("the AWS emulation did not start in time")
    try:
        status, value = parent.recv()
    except EOFError as exc:
        process.join(5)
        raise RuntimeError(f"the AWS emulation exited at start (code {process.exitcode})") from exc
    if status != "ready":
        process.join(5)
        raise RuntimeError(f"the AWS emulation could not start: {value}")
    return Emulator(process=process, host=host, port=int(value))
