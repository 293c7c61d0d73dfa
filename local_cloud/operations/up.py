"""`up`: deploy the assembly and run the system in the foreground until Ctrl-C (or SIGTERM)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from local_cloud.cloud import LocalCloud
from local_cloud.deploy.assembly import AssemblyError
from local_cloud.deploy.deployer import DeployError
from local_cloud.operations.banner import example_body_or_default, render
from local_cloud.operations.state import clear_state, write_state
from local_cloud.operations.status import write_status


def run_up(
    assembly: str,
    *,
    host: str,
    http_port: int,
    aws_port: int,
    edge_port: int = 8081,
    fault_rate: float,
    log_dir: str,
    example_body: str | None,
    state_file: str,
    example_file: str | None = None,
) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    stop = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            stop.set()
            raise KeyboardInterrupt  # also interrupts a boot in progress

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    example = example_body_or_default(example_body)
    cloud = LocalCloud(
        assembly,
        http_port=http_port,
        aws_port=aws_port,
        edge_port=edge_port,
        host=host,
        fault_rate=fault_rate,
        log_dir=log_dir,
    )
    try:
        cloud.start()
        report = write_status(state_file, cloud)
        write_state(state_file, cloud.aws_url, cloud.region, cloud.log_dir)
        print(render(cloud, example, report, example_file), flush=True)
        while not stop.is_set():
            stop.wait(1.0)
    except KeyboardInterrupt:
        pass
    except (AssemblyError, DeployError, OSError, RuntimeError) as exc:
        print(f"local cloud could not start: {exc}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping...", file=sys.stderr, flush=True)
        cloud.stop()
        clear_state(state_file)
        print("stopped", file=sys.stderr, flush=True)
    return 0
