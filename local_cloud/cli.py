"""python -m local_cloud up | status | orders | dlq | redrive | faults

Argument parsing only: each command is a function of local_cloud.operations. `up` runs the
system in the foreground; the others talk to a running `up` through its AWS port and find
it (endpoint, region, log directory) from the state file it writes.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from botocore.exceptions import BotoCoreError, ClientError

from local_cloud.operations import state
from local_cloud.operations.dlq import print_dlq, print_redrive
from local_cloud.operations.faults import print_faults
from local_cloud.operations.orders import print_orders
from local_cloud.operations.status import print_status
from local_cloud.operations.up import run_up


def _env_int(name: str) -> int | None:
    value = os.environ.get(name)
    return int(value) if value else None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_cloud", description=(__doc__ or "").split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument(
            "--aws-port",
            type=int,
            default=_env_int("LOCAL_AWS_PORT"),
            help="default: the running up's (from its state file), else 4566",
        )
        p.add_argument("--state-file", default=state.STATE_FILE, help=argparse.SUPPRESS)
        p.add_argument(
            "--region",
            default=os.environ.get("LOCAL_REGION"),
            help="default: the region of the running up (from its state file)",
        )
        return p

    up = command("up", "deploy the assembly and run the system until Ctrl-C")
    up.add_argument("--assembly", default=os.environ.get("LOCAL_ASSEMBLY", "cdk.out"))
    up.add_argument("--http-port", type=int, default=_env_int("LOCAL_HTTP_PORT") or 8080)
    up.add_argument(
        "--edge-port",
        type=int,
        default=_env_int("LOCAL_EDGE_PORT") or 8081,
        help="the CloudFront edge door's port (when the assembly has a distribution)",
    )
    up.add_argument(
        "--fault-rate", type=float, default=float(os.environ.get("LOCAL_FAULT_RATE") or 0)
    )
    up.add_argument("--log-dir", default=os.environ.get("LOCAL_LOG_DIR", ".local-cloud/logs"))
    up.add_argument(
        "--example-body",
        default=os.environ.get("LOCAL_EXAMPLE_BODY"),
        help="JSON body for the banner's curl line",
    )
    up.add_argument(
        "--example-file",
        default=os.environ.get("LOCAL_EXAMPLE_FILE"),
        help="file for the banner's upload line (aws s3 cp FILE s3://<bucket>/<prefix>)",
    )
    command("status", "what runs, what is not emulated (in full), faults and queue depths")
    command("orders", "list the items of every deployed table")
    dlq = command("dlq", "show dead-letter queue messages and why they are there")
    dlq.add_argument(
        "--log-dir", help="function logs to take reasons from (default: the running up's)"
    )
    command("redrive", "move dead-letter messages back to their source queue")
    faults = command("faults", "show or change DynamoDB write fault injection")
    faults.add_argument("--rate", type=float, help="fraction (0..1) of writes to throttle")
    faults.add_argument("--match", help="throttle every write whose request contains this")
    faults.add_argument("--clear-match", action="store_true", help="stop failing matches")
    return parser


def _up(args: argparse.Namespace) -> int:
    return run_up(
        args.assembly,
        host=args.host,
        http_port=args.http_port,
        edge_port=args.edge_port,
        aws_port=args.aws_port if args.aws_port is not None else state.DEFAULT_AWS_PORT,
        fault_rate=args.fault_rate,
        log_dir=args.log_dir,
        example_body=args.example_body,
        example_file=args.example_file,
        state_file=args.state_file,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    running = state.read_state(args.state_file)
    aws_url = state.aws_url(running, args.host, args.aws_port)
    region = args.region or state.region(running)
    commands: dict[str, Callable[[], int]] = {
        "up": lambda: _up(args),
        "status": lambda: print_status(args.state_file, aws_url, region),
        "orders": lambda: print_orders(aws_url, region),
        "dlq": lambda: print_dlq(aws_url, region, args.log_dir or running.get("log_dir")),
        "redrive": lambda: print_redrive(aws_url, region),
        "faults": lambda: print_faults(aws_url, args.rate, args.match, args.clear_match),
    }
    try:
        return commands[args.command]()
    except (ClientError, BotoCoreError) as exc:
        print(f"cannot reach the local cloud on {aws_url}: {exc}", file=sys.stderr)
        return 1
