"""`orders`: every item of every table of the deployed stacks (named for the app's tables,
it knows nothing of them: it lists whatever the stacks hold)."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from local_cloud.aws import client

TABLE_TYPE = "AWS::DynamoDB::Table"


def deployed_resources(cfn: Any, resource_type: str) -> list[str]:
    """Physical ids of every resource of a type in the emulation's live stacks."""
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


def plain(value: Any) -> Any:
    """DynamoDB values as JSON-friendly Python: numbers stay exact (int, or Decimal when
    they have a fraction: never float), sets become lists, binary becomes base64."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else value
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()  # as the AWS CLI shows binary attributes
    return value


def table_items(dynamodb: Any, table: str) -> list[dict[str, Any]]:
    """Every item of a table (consistent reads), with plain values."""
    deserializer = TypeDeserializer()
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
        items += [
            plain({k: deserializer.deserialize(v) for k, v in item.items()})
            for item in page["Items"]
        ]
    return items


def print_orders(aws_url: str, region: str) -> int:
    tables = deployed_resources(client("cloudformation", aws_url, region), TABLE_TYPE)
    dynamodb = client("dynamodb", aws_url, region)
    for table in tables:
        items = table_items(dynamodb, table)
        print(f"# {table}: {len(items)} items")
        for item in sorted(items, key=exact_json):
            print(exact_json(item))
    if not tables:
        print("# no tables in the deployed stacks")
    return 0


def exact_json(value: Any) -> str:
    """Compact JSON with sorted keys that writes Decimals digit for digit (json would need
    floats, which round: a total of 1100000.10 must print as that, not 1100000.1)."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        fields = (f"{json.dumps(str(k))}: {exact_json(v)}" for k, v in sorted(value.items()))
        return "{" + ", ".join(fields) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(exact_json(v) for v in value) + "]"
    return json.dumps(value)
