"""python -m local_cloud up | orders | dlq | redrive | faults

`up` runs the system in the foreground; the other commands talk to a running `up` through
its AWS port and find what they need (tables, dead-letter queues) from the deployed stacks.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from types import FrameType
from typing import Any

from boto3.dynamodb.types import TypeDeserializer
from botocore.exceptions import BotoCoreError, ClientError

from local_cloud.aws import client
from local_cloud.cloud import LocalCloud, faults_request
from local_cloud.deploy.assembly import DEFAULT_REGION, AssemblyError
from local_cloud.deploy.deployer import DeployError
from local_cloud.operations.banner import example_body_or_default, render

log = logging.getLogger("local_cloud")
STATE_FILE = ".local-cloud/state.json"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _aws_url(args: argparse.Namespace) -> str:
    return f"http://{args.host}:{args.aws_port}"


# -- up ---------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if not stop.is_set():
            stop.set()
            raise KeyboardInterrupt  # also interrupts a boot in progress

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    example = example_body_or_default(args.example_body)
    cloud = LocalCloud(
        args.assembly,
        http_port=args.http_port,
        aws_port=args.aws_port,
        host=args.host,
        fault_rate=args.fault_rate,
        log_dir=args.log_dir,
    )
    try:
        cloud.start()
        _write_state(args.state_file, cloud)
        print(render(cloud, example), flush=True)
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
        Path(args.state_file).unlink(missing_ok=True)
        print("stopped", file=sys.stderr, flush=True)
    return 0


def _write_state(path: str, cloud: LocalCloud) -> None:
    """Where the running cloud is, so `orders`/`dlq`/`redrive` find its region."""
    state = Path(path)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text(
        json.dumps(
            {
                "aws_url": cloud.aws_url,
                "region": cloud.region,
                "pid": os.getpid(),
                "log_dir": str(cloud.log_dir.resolve()) if cloud.log_dir else None,
            }
        ),
        encoding="utf-8",
    )


def _state(path: str) -> dict[str, Any]:
    try:
        state = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _state_region(path: str) -> str:
    return str(_state(path).get("region") or DEFAULT_REGION)


REASON_FIELDS = ("reason", "detail", "error_code", "error")


def logged_reason(log_dir: str | None, message_id: str) -> str | None:
    """What the functions last logged about a message (structured JSON logs), if anything.

    Lambda handlers log the SQS message id with their failures; this finds the last
    warning or error line about it in the running cloud's function logs, preferring one
    that names a reason, and keeps its message and reason fields.
    """
    if not log_dir or not Path(log_dir).is_dir():
        return None
    last: dict[str, Any] | None = None
    last_with_reason: dict[str, Any] | None = None
    for path in sorted(Path(log_dir).glob("*.log")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if message_id not in line or not line.startswith("{"):
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("level") in ("ERROR", "WARNING"):
                last = record
                if any(record.get(key) is not None for key in REASON_FIELDS):
                    last_with_reason = record
    found = last_with_reason or last
    if found is None:
        return None
    fields = [str(found.get("message", ""))]
    fields += [f"{key}={found[key]}" for key in REASON_FIELDS if found.get(key) is not None]
    return "; ".join(fields)


# -- helpers for the commands that talk to a running `up` -------------------------------
def deployed_resources(cfn: Any, resource_type: str) -> list[str]:
    found = []
    for page in cfn.get_paginator("list_stacks").paginate():
        for summary in page["StackSummaries"]:
            if summary["StackStatus"].startswith("DELETE"):
                continue
            for res_page in cfn.get_paginator("list_stack_resources").paginate(
                StackName=summary["StackName"]
            ):
                found += [
                    r["PhysicalResourceId"]
                    for r in res_page["StackResourceSummaries"]
                    if r["ResourceType"] == resource_type
                ]
    return found


def dead_letter_queues(sqs: Any) -> dict[str, list[str]]:
    """DLQ URL -> URLs of the queues that redrive into it."""
    urls = sqs.list_queues().get("QueueUrls", [])
    arn_to_url: dict[str, str] = {}
    targets: dict[str, list[str]] = {}
    for url in urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        arn_to_url[attributes["QueueArn"]] = url
        if "RedrivePolicy" in attributes:
            dlq_arn = json.loads(attributes["RedrivePolicy"])["deadLetterTargetArn"]
            targets.setdefault(dlq_arn, []).append(url)
    return {arn_to_url[arn]: sources for arn, sources in targets.items() if arn in arn_to_url}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return value


def peek_messages(sqs: Any, queue_url: str, limit: int = 100) -> list[dict[str, Any]]:
    """Read messages without consuming them (received with a zero visibility timeout)."""
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(limit):
        batch = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        new = [m for m in batch if m["MessageId"] not in seen]
        if not new:
            break
        seen.update((m["MessageId"], m) for m in new)
    return list(seen.values())


def _reason(message: dict[str, Any]) -> str | None:
    for name, value in message.get("MessageAttributes", {}).items():
        if any(word in name.lower() for word in ("error", "reason", "cause")):
            return f"{name}={value.get('StringValue', '')}"
    return None


# -- orders / dlq / redrive ---------------------------------------------------------------
def cmd_orders(args: argparse.Namespace) -> int:
    url = _aws_url(args)
    tables = deployed_resources(client("cloudformation", url, args.region), "AWS::DynamoDB::Table")
    dynamodb = client("dynamodb", url, args.region)
    deserializer = TypeDeserializer()
    for table in tables:
        items = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items += [
                _plain({k: deserializer.deserialize(v) for k, v in item.items()})
                for item in page["Items"]
            ]
        print(f"# {table}: {len(items)} items")
        for item in sorted(items, key=lambda i: json.dumps(i, sort_keys=True)):
            print(json.dumps(item, sort_keys=True))
    if not tables:
        print("# no tables in the deployed stacks")
    return 0


def cmd_dlq(args: argparse.Namespace) -> int:
    sqs = client("sqs", _aws_url(args), args.region)
    dlqs = dead_letter_queues(sqs)
    for dlq, sources in dlqs.items():
        messages = peek_messages(sqs, dlq)
        print(f"# {dlq} (dead-letter queue of {', '.join(sources)}): {len(messages)} messages")
        for message in messages:
            attributes = message.get("Attributes", {})
            reason = (
                _reason(message)
                or logged_reason(
                    args.log_dir or _state(args.state_file).get("log_dir"), message["MessageId"]
                )
                or (
                    f"received {attributes.get('ApproximateReceiveCount', '?')} times "
                    "without being deleted (maxReceiveCount reached)"
                )
            )
            print(
                json.dumps(
                    {
                        "message_id": message["MessageId"],
                        "reason": reason,
                        "body": message.get("Body"),
                    }
                )
            )
    if not dlqs:
        print("# no dead-letter queues (no queue has a redrive policy)")
    return 0


def _move(sqs: Any, source: str, destination: str) -> int:
    moved = 0
    while True:
        batch = sqs.receive_message(
            QueueUrl=source, MaxNumberOfMessages=10, VisibilityTimeout=30,
            MessageAttributeNames=["All"],
        ).get("Messages", [])  # fmt: skip
        if not batch:
            return moved
        for message in batch:
            sqs.send_message(
                QueueUrl=destination,
                MessageBody=message["Body"],
                **(
                    {"MessageAttributes": message["MessageAttributes"]}
                    if message.get("MessageAttributes")
                    else {}
                ),
            )
            sqs.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            moved += 1


def cmd_redrive(args: argparse.Namespace) -> int:
    sqs = client("sqs", _aws_url(args), args.region)
    for dlq, sources in dead_letter_queues(sqs).items():
        if len(sources) != 1:
            print(f"# {dlq} serves {len(sources)} queues; not redriving (ambiguous source)")
            continue
        arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]
        try:
            sqs.start_message_move_task(SourceArn=arn["QueueArn"])
            print(f"# {dlq}: StartMessageMoveTask started")
            continue
        except (ClientError, BotoCoreError, NotImplementedError):
            pass  # moto does not implement message move tasks: move them one by one
        moved = _move(sqs, dlq, sources[0])
        print(f"# {dlq}: moved {moved} messages back to {sources[0]}")
    return 0


def cmd_faults(args: argparse.Namespace) -> int:
    change: dict[str, Any] = {}
    if args.rate is not None:
        change["rate"] = args.rate
    if args.match is not None:
        change["match"] = args.match
    if args.clear_match:
        change["match"] = None
    try:
        state = faults_request(_aws_url(args), change or None)
    except OSError as exc:
        print(f"cannot reach the local cloud on {_aws_url(args)}: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(state))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m local_cloud", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--aws-port", type=int, default=_env_int("LOCAL_AWS_PORT", 4566))
        p.add_argument("--state-file", default=STATE_FILE, help=argparse.SUPPRESS)
        p.add_argument(
            "--region",
            default=os.environ.get("LOCAL_REGION"),
            help="default: the region of the running `up` (from its state file)",
        )

    up = sub.add_parser("up", help="deploy the assembly and run the system until Ctrl-C")
    common(up)
    up.add_argument("--assembly", default=os.environ.get("LOCAL_ASSEMBLY", "cdk.out"))
    up.add_argument("--http-port", type=int, default=_env_int("LOCAL_HTTP_PORT", 8080))
    up.add_argument(
        "--fault-rate", type=float, default=float(os.environ.get("LOCAL_FAULT_RATE") or 0)
    )
    up.add_argument("--log-dir", default=os.environ.get("LOCAL_LOG_DIR", ".local-cloud/logs"))
    up.add_argument(
        "--example-body",
        default=os.environ.get("LOCAL_EXAMPLE_BODY"),
        help="JSON body for the banner's curl line",
    )
    up.set_defaults(func=cmd_up)
    faults = sub.add_parser("faults", help="show or change DynamoDB write fault injection")
    common(faults)
    faults.add_argument("--rate", type=float, help="fraction (0..1) of writes to throttle")
    faults.add_argument("--match", help="throttle every write whose request contains this")
    faults.add_argument("--clear-match", action="store_true", help="stop failing matches")
    faults.set_defaults(func=cmd_faults)
    for name, func, text in [
        ("orders", cmd_orders, "list the items of every deployed table"),
        ("dlq", cmd_dlq, "show dead-letter queue messages and why they are there"),
        ("redrive", cmd_redrive, "move dead-letter messages back to their source queue"),
    ]:
        p = sub.add_parser(name, help=text)
        common(p)
        p.set_defaults(func=func)
        if name == "dlq":
            p.add_argument(
                "--log-dir", help="function logs to take reasons from (default: the running up's)"
            )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.region = args.region or _state_region(args.state_file)
    try:
        return int(args.func(args))
    except (ClientError, BotoCoreError) as exc:
        print(f"cannot reach the local cloud on {_aws_url(args)}: {exc}", file=sys.stderr)
        return 1
