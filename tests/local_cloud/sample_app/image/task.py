"""A tiny batch task: records what it was started with in the table, then exits with the
code it was asked for (RunTask's overrides set THING and EXIT_CODE)."""

import os
import sys
from pathlib import Path

import boto3

note = (Path(os.environ["DATA_DIR"]) / "note.txt").read_text(encoding="utf-8").strip()
boto3.client("dynamodb").put_item(
    TableName=os.environ["TABLE_NAME"],
    Item={
        "pk": {"S": os.environ.get("THING", "task")},
        "greeting": {"S": os.environ["GREETING"]},
        "note": {"S": note},
        "cwd": {"S": Path.cwd().name},
    },
)
print("task done", os.environ.get("THING"), flush=True)
sys.exit(int(os.environ.get("EXIT_CODE", "0")))
