"""DynamoDB stream event source mappings: Lambda's filtering, batching, retry, bisect,
partial-failure and destination rules, unit by unit and on the running sample app."""

from __future__ import annotations

import contextlib
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from local_cloud.operations.queues import peek_messages
from local_cloud.services.environments import InvokeResult
from local_cloud.services.event_filter import matches, parse_filters, passes
from local_cloud.services.streams import (
    BatchOutcome,
    BatchProcessor,
    StreamMapping,
    failed_from,
    failure_record,
)
from tests.local_cloud.conftest import wait_for

RECORD = {
    "eventName": "MODIFY",
    "dynamodb": {
        "Keys": {"pk": {"S": "order#1"}},
        "NewImage": {"pk": {"S": "order#1"}, "amount": {"N": "12.50"}, "qty": 3},
        "OldImage": {"pk": {"S": "order#1"}},
    },
    "ip": "10.0.0.7",
    "tags": ["a", "b"],
}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ({"eventName": ["MODIFY"]}, True),
        ({"eventName": ["INSERT", "REMOVE"]}, False),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "order#"}]}}}}, True),
        ({"dynamodb": {"Keys": {"pk": {"S": [{"prefix": "tx#"}]}}}}, False),
        ({"dynamodb": {"NewImage": {"amount": {"N": [{"exists": True}]}}}}, True),
        ({"dynamodb": {"OldImage": {"amount": {"N": [{"exists": True}]}}}}, False),
        ({"dynamodb": {"OldImage": {"amount": {"N": [{"exists": False}]}}}}, True),
        ({"eventName": [{"anything-but": ["REMOVE"]}]}, True),
        ({"eventName": [{"anything-but": {"prefix": "MOD"}}]}, False),
        ({"dynamodb": {"NewImage": {"qty": [{"numeric": [">", 2, "<=", 3]}]}}}, True),
        ({"dynamodb": {"NewImage": {"qty": [{"numeric": [">", 3]}]}}}, False),
        # DynamoDB numbers are strings: numeric rules never match them
        ({"dynamodb": {"NewImage": {"amount": {"N": [{"numeric": [">", 0]}]}}}}, False),
        ({"dynamodb": {"NewImage": {"qty": ["3"]}}}, False),
        ({"ip": [{"cidr": "10.0.0.0/24"}]}, True),
        ({"tags": ["b"]}, True),
        ({"eventName": [{"suffix": "IFY"}]}, True),
        ({"eventName": [{"equals-ignore-case": "modify"}]}, True),
        ({"$or": [{"eventName": ["INSERT"]}, {"ip": [{"prefix": "10."}]}]}, True),
    ],
)
def test_lambdas_filter_rules(pattern, expected):
    assert matches(pattern, RECORD) is expected


def test_filters_or_each_other_and_none_pass_everything():
    patterns = parse_filters(
        {
            "Filters": [
                {"Pattern": json.dumps({"eventName": ["INSERT"]})},
                {"Pattern": json.dumps({"eventName": ["MODIFY"]})},
            ]
        }
    )
    assert passes(patterns, RECORD)
    assert not passes(patterns[:1], RECORD)
    assert passes([], RECORD)


def record(n: int, created: float = 1000.0) -> dict[str, Any]:
    return {
        "eventName": "INSERT",
        "dynamodb": {
            "SequenceNumber": str(100 + n),
            "ApproximateCreationDateTime": created,
            "Keys": {"pk": {"S": str(n)}},
        },
    }


MAPPING = StreamMapping(
    uuid="u",
    function_arn="arn:aws:lambda:us-east-1:123456789012:function:f",
    stream_arn="arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2026",
    batch_size=4,
    bisect=True,
    maximum_retry_attempts=2,
    maximum_record_age_s=60,
    report_batch_item_failures=True,
    on_failure="arn:aws:sqs:us-east-1:123456789012:q",
)


class FakeFunction:
    """Fails (or reports) every batch holding a poisoned record; records what it saw."""

    def __init__(self, poison: set[str], report: bool = False) -> None:
        self.poison = poison
        self.report = report
        self.batches: list[list[str]] = []

    def __call__(self, _arn: str, event: dict[str, Any]) -> InvokeResult:
        keys = [r["dynamodb"]["Keys"]["pk"]["S"] for r in event["Records"]]
        self.batches.append(keys)
        bad = [r for r in event["Records"] if r["dynamodb"]["Keys"]["pk"]["S"] in self.poison]
        if not bad:
            return InvokeResult(payload={"batchItemFailures": []})
        if self.report:
            identifier = bad[0]["dynamodb"]["SequenceNumber"]
            return InvokeResult(payload={"batchItemFailures": [{"itemIdentifier": identifier}]})
        return InvokeResult(error={"errorType": "Boom", "errorMessage": "poison"})


def run(
    function: FakeFunction, mapping: StreamMapping = MAPPING, now: float = 1010.0
) -> tuple[BatchOutcome, list[tuple[list[str], str, int]]]:
    given_up: list[tuple[list[str], str, int]] = []
    processor = BatchProcessor(
        mapping,
        function,
        lambda batch, condition, attempts, _result: given_up.append(
            ([r["dynamodb"]["Keys"]["pk"]["S"] for r in batch], condition, attempts)
        ),
        clock=lambda: now,
        sleep=lambda _s: None,
    )
    outcome = BatchOutcome()
    processor.process([record(n) for n in range(4)], outcome)
    return outcome, given_up


def test_bisect_isolates_the_record_that_fails_the_batch_and_the_rest_get_through():
    function = FakeFunction(poison={"2"})
    outcome, given_up = run(function)

    assert function.batches[:3] == [["0", "1", "2", "3"], ["0", "1"], ["2", "3"]]
    # "2" alone: the first try and MaximumRetryAttempts (2) retries, then the destination
    assert function.batches[3:6] == [["2"], ["2"], ["2"]]
    assert function.batches[6:] == [["3"]]
    assert given_up == [(["2"], "RetryAttemptsExhausted", 3)]
    assert (outcome.delivered, outcome.given_up) == (3, 1)


def test_a_partial_failure_report_retries_from_the_first_failed_record():
    function = FakeFunction(poison={"1"}, report=True)
    without_bisect = StreamMapping(**{**MAPPING.__dict__, "bisect": False})
    outcome, given_up = run(function, without_bisect)

    # records before the failed one are checkpointed; the rest is retried as a batch
    assert function.batches == [["0", "1", "2", "3"], ["1", "2", "3"], ["1", "2", "3"]]
    assert given_up == [(["1", "2", "3"], "RetryAttemptsExhausted", 3)]
    assert outcome.delivered == 1


def test_a_malformed_report_fails_the_whole_batch():
    result = InvokeResult(payload={"batchItemFailures": [{"itemIdentifier": "999"}]})
    assert failed_from(result, [record(0), record(1)], True) == 0
    ok = InvokeResult(payload={"batchItemFailures": [{"itemIdentifier": "101"}]})
    assert failed_from(ok, [record(0), record(1)], True) == 1
    assert failed_from(ok, [record(0), record(1)], False) is None


def test_records_past_the_maximum_age_are_not_retried():
    function = FakeFunction(poison=set())
    outcome, given_up = run(function, now=2000.0)  # records made at 1000, max age 60 s
    assert function.batches == []
    assert given_up == [(["0", "1", "2", "3"], "RecordAgeExceeded", 0)]
    assert outcome.given_up == 4


def test_the_failure_record_is_lambdas_stream_format():
    failed = failure_record(
        MAPPING,
        shard_id="shardId-1",
        batch=[record(1, 1000.0), record(2, 1001.0)],
        condition="RetryAttemptsExhausted",
        attempts=3,
        result=InvokeResult(error={"errorType": "Boom"}),
    )
    assert failed["version"] == "1.0"
    assert failed["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failed["requestContext"]["approximateInvokeCount"] == 3
    assert failed["requestContext"]["functionArn"] == MAPPING.function_arn + ":$LATEST"
    assert failed["responseContext"]["functionError"] == "Unhandled"
    assert failed["DDBStreamBatchInfo"] == {
        "shardId": "shardId-1",
        "startSequenceNumber": "101",
        "endSequenceNumber": "102",
        "approximateArrivalOfFirstRecord": "1970-01-01T00:16:40Z",
        "approximateArrivalOfLastRecord": "1970-01-01T00:16:41Z",
        "batchSize": 2,
        "streamArn": MAPPING.stream_arn,
    }


# -- on the running sample app -----------------------------------------------------------
def things(cloud) -> dict[str, dict[str, Any]]:
    table = cloud.outputs["ThingsTableName"]
    found = cloud.client("dynamodb").scan(TableName=table, ConsistentRead=True)["Items"]
    return {item["pk"]["S"]: item for item in found}


def log_entries(cloud) -> list[tuple[str, int, str]]:
    item = things(cloud).get("stream-log")
    entries = [e["S"].split("|") for e in item["entries"]["L"]] if item else []
    return [(key, int(seq), name) for key, seq, name in entries]


def put(cloud, key: str, **attributes: dict[str, str]) -> None:
    cloud.client("dynamodb").put_item(
        TableName=cloud.outputs["LedgerTableName"], Item={"pk": {"S": key}, **attributes}
    )


def test_the_mapping_is_read_back_with_its_settings(cloud):
    (mapping,) = cloud.stream_mappings
    assert (mapping.batch_size, mapping.maximum_retry_attempts) == (4, 2)
    assert mapping.bisect
    assert mapping.report_batch_item_failures
    assert mapping.on_failure.endswith(cloud.outputs["StreamFailuresUrl"].rsplit("/", 1)[-1])
    assert len(mapping.filters) == 2


def test_records_reach_the_function_in_order_with_lambdas_event(cloud):
    for n in range(6):
        put(cloud, f"order-{n}", amount={"N": str(n)})

    wait_for(lambda: {f"order-{n}" for n in range(6)} <= {e[0] for e in log_entries(cloud)})
    entries = [e for e in log_entries(cloud) if e[0].startswith("order-")]
    assert [e[0] for e in entries] == [f"order-{n}" for n in range(6)]
    sequence_numbers = [e[1] for e in entries]
    assert sequence_numbers == sorted(set(sequence_numbers))  # increasing, never reused
    shown = things(cloud)["stream#order-0"]["record"]["S"]
    assert "'eventSource': 'aws:dynamodb'" in shown
    assert "'StreamViewType': 'NEW_AND_OLD_IMAGES'" in shown
    assert f"'eventSourceARN': 'arn:aws:dynamodb:{cloud.region}:" in shown


def test_records_no_filter_matches_are_dropped_not_delivered(cloud):
    put(cloud, "plain")  # no amount, new or old
    put(cloud, "after-plain", amount={"N": "1"})
    wait_for(lambda: "after-plain" in {e[0] for e in log_entries(cloud)})
    assert "plain" not in {e[0] for e in log_entries(cloud)}
    # a change that removes the amount still passes (the old image has it)
    put(cloud, "after-plain")
    wait_for(lambda: ("after-plain", "MODIFY") in {(e[0], e[2]) for e in log_entries(cloud)})


def test_a_poisoned_record_ends_in_the_destination_and_its_neighbours_get_through(cloud):
    cloud.pause_mappings()
    try:
        put(cloud, "mate-1", amount={"N": "1"})
        put(cloud, "bad", amount={"N": "1"}, poison={"BOOL": True})
        put(cloud, "mate-2", amount={"N": "1"})
    finally:
        cloud.resume_mappings()

    sqs = cloud.client("sqs")
    (letter,) = wait_for(lambda: peek_messages(sqs, cloud.outputs["StreamFailuresUrl"]))
    wait_for(lambda: {"mate-1", "mate-2"} <= {e[0] for e in log_entries(cloud)})
    failed = json.loads(letter["Body"])
    info = failed["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    assert info["startSequenceNumber"] == info["endSequenceNumber"]
    assert info["streamArn"].startswith(f"arn:aws:dynamodb:{cloud.region}:")
    assert failed["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert failed["requestContext"]["approximateInvokeCount"] == 3
    assert "bad" not in {e[0] for e in log_entries(cloud)}
    # the record it names is the poisoned one
    streams = cloud.client("dynamodbstreams")
    iterator = streams.get_shard_iterator(
        StreamArn=info["streamArn"],
        ShardId=info["shardId"],
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        SequenceNumber=info["startSequenceNumber"],
    )["ShardIterator"]
    (named, *_) = streams.get_records(ShardIterator=iterator, Limit=1)["Records"]
    assert named["dynamodb"]["Keys"]["pk"]["S"] == "bad"


def test_sequence_numbers_keep_increasing_after_records_were_delivered(cloud):
    put(cloud, "seq-a", amount={"N": "1"})
    wait_for(lambda: "seq-a" in {e[0] for e in log_entries(cloud)})
    put(cloud, "seq-b", amount={"N": "1"})
    wait_for(lambda: "seq-b" in {e[0] for e in log_entries(cloud)})
    numbers = {e[0]: e[1] for e in log_entries(cloud)}
    assert numbers["seq-b"] > numbers["seq-a"] > numbers.get("order-0", 0)


def test_paused_mappings_hold_records_until_resumed(cloud):
    cloud.pause_mappings()
    try:
        put(cloud, "held", amount={"N": "1"})
        streams = cloud.client("dynamodbstreams")
        arn = cloud.stream_mappings[0].stream_arn
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]
        iterator = streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        records = streams.get_records(ShardIterator=iterator)["Records"]
        assert "held" in {r["dynamodb"]["Keys"]["pk"]["S"] for r in records}  # in the stream
        assert "held" not in {e[0] for e in log_entries(cloud)}  # not delivered
    finally:
        cloud.resume_mappings()
    wait_for(lambda: "held" in {e[0] for e in log_entries(cloud)})


def test_a_write_that_changes_nothing_adds_no_stream_record(cloud):
    # DynamoDB Streams writes no record for a PutItem or UpdateItem that changes no data
    # (moto wrote a MODIFY with equal images): a re-uploaded file must reach no consumer.
    put(cloud, "same", amount={"N": "5"})
    put(cloud, "same", amount={"N": "5"})
    cloud.client("dynamodb").update_item(
        TableName=cloud.outputs["LedgerTableName"],
        Key={"pk": {"S": "same"}},
        UpdateExpression="SET amount = :amount",
        ExpressionAttributeValues={":amount": {"N": "5"}},
    )
    put(cloud, "same", amount={"N": "6"})  # a real change still makes one
    put(cloud, "same-after", amount={"N": "1"})

    wait_for(lambda: "same-after" in {e[0] for e in log_entries(cloud)})
    same = [name for key, _, name in log_entries(cloud) if key == "same"]
    assert same == ["INSERT", "MODIFY"]


# -- writes as atomic as DynamoDB's (moto's threaded server was not) -----------------------
def test_transactions_beside_concurrent_writes_of_the_same_table_neither_fail_nor_lose_any(
    cloud,
):
    # moto deep-copied each table a transaction names (its rollback): a put into that
    # table meanwhile crashed the copy (a 500), and a rollback undid the put.
    table = cloud.outputs["ThingsTableName"]
    seed = cloud.client("dynamodb")
    for n in range(300):
        seed.put_item(TableName=table, Item={"pk": {"S": f"atomic-seed-{n}"}})
    seed.put_item(TableName=table, Item={"pk": {"S": "atomic-counter"}, "n": {"N": "0"}})

    def transactions(worker: int) -> None:
        client = cloud.client("dynamodb")
        for n in range(40):
            client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": table, "Item": {"pk": {"S": f"atomic-tx-{worker}-{n}"}}}},
                    {
                        "Update": {
                            "TableName": table,
                            "Key": {"pk": {"S": "atomic-counter"}},
                            "UpdateExpression": "SET n = n + :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}},
                        }
                    },
                ]
            )

    def puts(worker: int) -> None:
        client = cloud.client("dynamodb")
        for n in range(80):
            client.put_item(TableName=table, Item={"pk": {"S": f"atomic-put-{worker}-{n}"}})

    with ThreadPoolExecutor(max_workers=6) as pool:
        done = [pool.submit(transactions, w) for w in range(3)]
        done += [pool.submit(puts, w) for w in range(3)]
        for future in done:
            future.result()  # no call failed

    keys = {
        item["pk"]["S"]
        for page in seed.get_paginator("scan").paginate(TableName=table, ConsistentRead=True)
        for item in page["Items"]
    }
    assert {f"atomic-tx-{w}-{n}" for w in range(3) for n in range(40)} <= keys
    assert {f"atomic-put-{w}-{n}" for w in range(3) for n in range(80)} <= keys
    counter = seed.get_item(
        TableName=table, Key={"pk": {"S": "atomic-counter"}}, ConsistentRead=True
    )
    assert counter["Item"]["n"]["N"] == "120"


def test_conditional_updates_of_one_item_never_both_pass(cloud):
    # Optimistic locking as the ledger's aggregator does it: read the revision, write
    # on the condition that it is unchanged. Every increment that succeeded must count.
    table = cloud.outputs["ThingsTableName"]
    key = {"pk": {"S": "atomic-rev"}}
    cloud.client("dynamodb").put_item(
        TableName=table, Item={**key, "rev": {"N": "0"}, "count": {"N": "0"}}
    )

    def increments(_: int) -> int:
        client = cloud.client("dynamodb")
        won = 0
        while won < 25:
            rev = int(
                client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]["rev"]["N"]
            )
            try:
                client.update_item(
                    TableName=table,
                    Key=key,
                    UpdateExpression="SET rev = :next, #count = #count + :one",
                    ConditionExpression="rev = :rev",
                    ExpressionAttributeNames={"#count": "count"},
                    ExpressionAttributeValues={
                        ":rev": {"N": str(rev)},
                        ":next": {"N": str(rev + 1)},
                        ":one": {"N": "1"},
                    },
                )
            except client.exceptions.ConditionalCheckFailedException:
                continue
            won += 1
        return won

    with ThreadPoolExecutor(max_workers=6) as pool:
        won = sum(pool.map(increments, range(6)))

    item = cloud.client("dynamodb").get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    assert (won, item["rev"]["N"], item["count"]["N"]) == (150, "150", "150")


def test_consistent_reads_see_only_whole_committed_items(cloud):
    # moto stored an UpdateItem's new item as its key alone and then updated it in place,
    # and a cancelled transaction's writes stood until they were put back: a Scan or
    # GetItem in between returned items DynamoDB never holds (a ledger total without its
    # "total", seen under load). A transaction of 99 updates whose last check fails keeps
    # that window open long enough for a reader to hit it every time.
    table = cloud.outputs["ThingsTableName"]
    writer = cloud.client("dynamodb")
    writer.put_item(TableName=table, Item={"pk": {"S": "whole-guard"}, "v": {"N": "0"}})
    seen: list[dict[str, Any]] = []
    done = threading.Event()

    def update(key: str) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": table,
                "Key": {"pk": {"S": key}},
                "UpdateExpression": "SET a = :a, b = :b, c = :c",
                "ExpressionAttributeValues": {":a": {"N": "1"}, ":b": {"N": "2"}, ":c": {"S": "x"}},
            }
        }

    def writes() -> None:
        for n in range(20):
            with contextlib.suppress(writer.exceptions.TransactionCanceledException):
                writer.transact_write_items(
                    TransactItems=[
                        *(update(f"whole-cancelled-{n}-{k}") for k in range(99)),
                        {
                            "ConditionCheck": {
                                "TableName": table,
                                "Key": {"pk": {"S": "whole-guard"}},
                                "ConditionExpression": "v = :one",
                                "ExpressionAttributeValues": {":one": {"N": "1"}},
                            }
                        },
                    ]
                )
            for k in range(10):
                writer.update_item(**update(f"whole-{n}-{k}")["Update"])

    def reads() -> None:
        reader = cloud.client("dynamodb")
        while not done.is_set():
            for page in reader.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
                seen.extend(i for i in page["Items"] if i["pk"]["S"].startswith("whole-"))

    reader_thread = threading.Thread(target=reads)
    reader_thread.start()
    try:
        writes()
    finally:
        done.set()
        reader_thread.join(60)
    assert [i["pk"]["S"] for i in seen if i["pk"]["S"].startswith("whole-cancelled-")] == []
    assert [
        i for i in seen if i["pk"]["S"] != "whole-guard" and set(i) != {"pk", "a", "b", "c"}
    ] == []
    assert len([i for i in seen if i["pk"]["S"] != "whole-guard"]) > 200  # it read meanwhile


def test_a_cancelled_transaction_leaves_its_items_and_the_stream_as_they_were(cloud):
    ledger = cloud.outputs["LedgerTableName"]
    dynamodb = cloud.client("dynamodb")
    put(cloud, "cancel-kept", amount={"N": "1"})
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": ledger,
                        "Item": {"pk": {"S": "cancel-new"}, "amount": {"N": "2"}},
                    }
                },
                {
                    "Update": {
                        "TableName": ledger,
                        "Key": {"pk": {"S": "cancel-kept"}},
                        "UpdateExpression": "SET amount = :two",
                        "ConditionExpression": "amount = :zero",
                        "ExpressionAttributeValues": {":two": {"N": "2"}, ":zero": {"N": "0"}},
                    }
                },
            ]
        )
    dynamodb.transact_write_items(
        TransactItems=[
            {
                "Put": {
                    "TableName": ledger,
                    "Item": {"pk": {"S": "cancel-after"}, "amount": {"N": "3"}},
                }
            }
        ]
    )

    wait_for(lambda: "cancel-after" in {e[0] for e in log_entries(cloud)})
    assert "cancel-new" not in {e[0] for e in log_entries(cloud)}
    assert "Item" not in dynamodb.get_item(TableName=ledger, Key={"pk": {"S": "cancel-new"}})
    kept = dynamodb.get_item(TableName=ledger, Key={"pk": {"S": "cancel-kept"}})["Item"]
    assert kept["amount"]["N"] == "1"
    assert [name for key, _, name in log_entries(cloud) if key == "cancel-kept"] == ["INSERT"]
