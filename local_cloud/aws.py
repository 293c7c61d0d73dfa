"""boto3 clients for the emulation: fake credentials, its endpoint, path-style S3."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

ACCOUNT_ID = "123456789012"  # moto's default account
FAKE_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def session(region: str) -> boto3.Session:
    """A session that can never reach a real account: fixed fake credentials."""
    return boto3.Session(region_name=region, **FAKE_CREDENTIALS)


def client(service: str, endpoint_url: str, region: str) -> Any:
    return session(region).client(
        service,
        endpoint_url=endpoint_url,
        config=Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "max_attempts": 3},
            connect_timeout=5,
            read_timeout=30,
        ),
    )
