"""The emulation's boto3 clients: one per service, endpoint and region, JSON read once."""

from __future__ import annotations

import threading

from local_cloud import aws

ENDPOINT = "http://127.0.0.1:1"  # never called: creating a client makes no request


def test_the_same_service_endpoint_and_region_get_the_same_client():
    first = aws.client("sqs", ENDPOINT, "us-east-1")
    assert aws.client("sqs", ENDPOINT, "us-east-1") is first
    assert aws.client("sqs", ENDPOINT, "eu-west-1") is not first
    assert aws.client("sqs", ENDPOINT + "0", "us-east-1") is not first
    assert aws.client("sns", ENDPOINT, "us-east-1") is not first
    assert first.meta.region_name == "us-east-1"
    assert first.meta.endpoint_url == ENDPOINT
    aws.forget_clients(ENDPOINT)
    aws.forget_clients(ENDPOINT + "0")


def test_threads_asking_at_once_share_one_client():
    got: list[object] = []
    threads = [
        threading.Thread(target=lambda: got.append(aws.client("dynamodb", ENDPOINT, "us-east-1")))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(got) == 8
    assert all(c is got[0] for c in got)
    aws.forget_clients(ENDPOINT)


def test_a_stopped_emulations_clients_are_forgotten():
    first = aws.client("s3", ENDPOINT, "us-east-1")
    other = aws.client("s3", "http://127.0.0.1:2", "us-east-1")
    aws.forget_clients(ENDPOINT)
    assert aws.client("s3", ENDPOINT, "us-east-1") is not first
    assert aws.client("s3", "http://127.0.0.1:2", "us-east-1") is other
    aws.forget_clients(ENDPOINT)
    aws.forget_clients("http://127.0.0.1:2")


def test_sessions_are_new_each_time_but_read_botocores_data_once():
    one, two = aws.session("us-east-1"), aws.session("us-east-1")
    assert one is not two
    assert one._session is not two._session  # sessions are not thread-safe: never shared
    loader = one._session.get_component("data_loader")
    assert two._session.get_component("data_loader") is loader
    credentials = one.get_credentials()
    assert credentials is not None
    assert credentials.access_key == aws.FAKE_CREDENTIALS["aws_access_key_id"]
    assert one.region_name == "us-east-1"
