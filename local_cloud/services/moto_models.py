"""Imported by the emulation's zygote (``emulator.PRELOAD``) to parse, once, the botocore
models of the services the local cloud emulates.

moto parses a service's model the first time a request for it arrives (``get_service_model``,
to read the request and write the answer) and again the first time a backend for it is
created (its session's ``get_available_regions``); both are cached for the process. An
emulation forked from a zygote that has done it starts with both caches full instead of
parsing about a dozen models again (EC2's alone is tens of milliseconds); nothing else
is created here: no backend, no state.
"""

from botocore.exceptions import BotoCoreError
from moto.core.base_backend import AccountSpecificBackend
from moto.core.utils import get_service_model

# The services whose resources the deployer creates or whose APIs the runner calls.
SERVICES = (
    "cloudformation",
    "dynamodb",
    "dynamodbstreams",
    "ec2",
    "ecs",
    "elbv2",
    "events",
    "iam",
    "kms",
    "lambda",
    "logs",
    "s3",
    "sns",
    "sqs",
    "sts",
)


def parse_models() -> None:
    for service in SERVICES:
        get_service_model(service)
    try:  # the session reads the profile: a missing AWS_PROFILE fails here, not later
        session = AccountSpecificBackend.get_session()
        partitions = session.get_available_partitions()
        for service in SERVICES:
            for partition in partitions:
                session.get_available_regions(service, partition_name=partition)
    except BotoCoreError:
        AccountSpecificBackend.get_session.cache_clear()  # each emulation makes its own


parse_models()
