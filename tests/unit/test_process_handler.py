"""Process: SQS batch in, conditional writes to the (moto) table, partial failures out."""

import json
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError
from orders_core.batch import BatchProcessingError
from orders_core.model import AcceptedOrder, Order, Stamp
from orders_core.process.service import ProcessService
from orders_core.process.table import OrdersTable
from orders_core.retry import RetryPolicy
from orders_core.settings import SettingsError
from orders_core.versioning import format_accepted_at

from lambdas.process import handler as process_handler
from tests.unit.conftest import REGION, Captured, QueueProbe, TableProbe
from tests.unit.events import FakeClock, FakeContext, alb_event, json_event, sqs_event, sqs_record
from tests.unit.ingest_client import invoke

T0 = 1_735_689_600_000_000_000  # 2025-01-01T00:00:00Z in nanoseconds


def message(
    order: dict[str, Any],
    *,
    at_ns: int = T0,
    request_id: str = "11111111-1111-1111-1111-111111111111",
    position: int = 0,
) -> str:
    """A queue message exactly as ingest writes it."""
    stamp = Stamp.create(
        accepted_at=format_accepted_at(at_ns), request_id=request_id, position=position
    )
    return AcceptedOrder(order=Order.parse(order), stamp=stamp).to_message_body()


def run(*records: dict[str, Any], context: FakeContext | None = None) -> list[str]:
    """Invoke process; returns the message ids reported as failed."""
    response = process_handler.lambda_handler(sqs_event(*records), context or FakeContext())
    return [failure["itemIdentifier"] for failure in response["batchItemFailures"]]


class FlakyDynamoDb:
    """The moto client, but put_item fails first with the given errors (or forever)."""

    def __init__(self, errors: list[Exception], *, forever_for: str | None = None) -> None:
        self._real = boto3.client("dynamodb", region_name=REGION)
        self._errors = errors
        self._forever_for = forever_for
        self.calls = 0

    def put_item(self, **kwargs: Any) -> dict[str, Any]:
        self.calls += 1
        if self._forever_for is not None and kwargs["Item"]["order_id"]["S"] == self._forever_for:
            raise throttled()
        if self._errors:
            raise self._errors.pop(0)
        return dict(self._real.put_item(**kwargs))


def throttled(code: str = "ProvisionedThroughputExceededException") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "slow down"}}, "PutItem")


def use_table_client(
    monkeypatch: pytest.MonkeyPatch, table: TableProbe, client: Any, clock: FakeClock
) -> None:
    service = ProcessService(
        OrdersTable(
            client, table.name, policy=RetryPolicy(), sleep=clock.sleep, jitter=lambda: 1.0
        ),
        max_receive_count=5,
        ledger_currency="IDR",
    )
    monkeypatch.setattr(process_handler, "get_service", lambda: service)


# --- stored ------------------------------------------------------------------------------


def test_a_message_from_ingest_is_stored_exactly(
    orders_queue: QueueProbe, orders_table: TableProbe
) -> None:
    # Given an order that went through ingest, floats and all
    body = '{"order_id": 123, "item": "Kopi Susu", "qty": 2, "price": 12.50, "ratio": 0.1}'
    assert invoke(alb_event(body)).status == 202
    [queued] = orders_queue.drain()

    # When process receives that very message
    failures = run(sqs_record(queued["body"], message_id=queued["message_id"]))

    # Then it is in the table, numbers as exact Decimals, with the stamp
    assert failures == []
    stored = orders_table.get("123", "Kopi Susu")
    assert stored is not None
    assert stored["qty"] == 2
    assert stored["price"] == Decimal("12.50")
    assert stored["ratio"] == Decimal("0.1")
    assert isinstance(stored["ratio"], Decimal)
    sent = json.loads(queued["body"])
    assert {k: stored[k] for k in ("accepted_at", "request_id", "version")} == {
        k: sent[k] for k in ("accepted_at", "request_id", "version")
    }


def test_the_subject_the_edge_authenticated_is_stored_with_the_order(
    orders_queue: QueueProbe, orders_table: TableProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGE_ENABLED", "true")
    headers = {"x-auth-subject": "user-42"}
    assert invoke(alb_event('{"order_id": "s-1", "item": "x"}', headers=headers)).status == 202
    [queued] = orders_queue.drain()

    assert run(sqs_record(queued["body"], message_id=queued["message_id"])) == []

    stored = orders_table.get("s-1", "x")
    assert stored is not None
    assert stored["auth_subject"] == "user-42"


def test_free_form_values_round_trip_to_the_table(orders_table: TableProbe) -> None:
    order = {"order_id": "9", "item": "Roti", "tags": ["a", {"b": None, "c": True}], "n": -5}

    assert run(sqs_record(message(order))) == []

    stored = orders_table.get("9", "Roti")
    assert stored is not None
    assert stored["tags"] == ["a", {"b": None, "c": True}]
    assert stored["n"] == -5


def test_metrics_and_logs_for_stored_and_stale(
    orders_table: TableProbe, captured: Captured
) -> None:
    body = message({"order_id": "1", "item": "Kopi"})

    run(sqs_record(body, message_id="m-1"), sqs_record(body, message_id="m-2"))

    assert captured.metric_total("OrdersStored") == 1
    assert captured.metric_total("StaleSkipped") == 1
    messages = {line["message"]: line for line in captured.logs()}
    assert messages["order stored"]["message_id"] == "m-1"
    assert messages["stale or duplicate order skipped"]["message_id"] == "m-2"


# --- ordering and duplicates -------------------------------------------------------------


def test_an_older_version_never_overwrites_a_newer_one(orders_table: TableProbe) -> None:
    # Given v2 (accepted later) is delivered before v1
    v1 = message({"order_id": "1", "item": "Kopi", "qty": 1}, at_ns=T0)
    v2 = message({"order_id": "1", "item": "Kopi", "qty": 2}, at_ns=T0 + 1)

    # When both arrive, newest first, in separate batches
    assert run(sqs_record(v2)) == []
    assert run(sqs_record(v1)) == []

    # Then v1 is acknowledged (not retried) and the table keeps v2
    stored = orders_table.get("1", "Kopi")
    assert stored is not None
    assert stored["qty"] == 2
    assert stored["version"] == json.loads(v2)["version"]


def test_a_newer_version_replaces_an_older_one(orders_table: TableProbe) -> None:
    v1 = message({"order_id": "1", "item": "Kopi", "qty": 1}, at_ns=T0)
    v2 = message({"order_id": "1", "item": "Kopi", "qty": 2}, at_ns=T0 + 1)

    assert run(sqs_record(v1), sqs_record(v2)) == []

    stored = orders_table.get("1", "Kopi")
    assert stored is not None
    assert stored["qty"] == 2


def test_same_instant_ties_break_on_request_id_whatever_the_delivery_order(
    orders_table: TableProbe,
) -> None:
    a = message({"order_id": "1", "item": "Kopi", "qty": 1}, request_id="aaaa")
    b = message({"order_id": "1", "item": "Kopi", "qty": 2}, request_id="bbbb")

    assert run(sqs_record(b), sqs_record(a)) == []

    stored = orders_table.get("1", "Kopi")
    assert stored is not None
    assert stored["qty"] == 2


def test_duplicate_deliveries_are_acknowledged_and_stored_once(orders_table: TableProbe) -> None:
    body = message({"order_id": "1", "item": "Kopi", "qty": 3})

    assert run(sqs_record(body), sqs_record(body)) == []
    assert run(sqs_record(body)) == []

    assert orders_table.count() == 1
    stored = orders_table.get("1", "Kopi")
    assert stored is not None
    assert stored["qty"] == 3


# --- poison records ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "poison",
    [
        "not json",
        "[1, 2]",
        '{"order_id": "1", "item": "Kopi"}',  # no stamp
        json.dumps({**json.loads(message({"order_id": "1", "item": "Kopi"})), "qty": 2.5}),
        json.dumps({**json.loads(message({"order_id": "1", "item": "Kopi"})), "version": "v9"}),
        json.dumps({**json.loads(message({"order_id": "1", "item": "Kopi"})), "item": ""}),
        '{"order_id": "1", "item": "x", "n": NaN}',
    ],
    ids=["not-json", "array", "no-stamp", "float-qty", "bad-version", "empty-item", "nan"],
)
def test_a_poison_record_fails_alone(
    orders_table: TableProbe, captured: Captured, poison: str
) -> None:
    # Given a batch with one message that can never succeed between two good ones
    good_1 = message({"order_id": "1", "item": "A"})
    good_2 = message({"order_id": "2", "item": "B"})

    # When the batch is processed
    failures = run(
        sqs_record(good_1, message_id="good-1"),
        sqs_record(poison, message_id="poison", receive_count=2),
        sqs_record(good_2, message_id="good-2"),
    )

    # Then only the poison message is reported (SQS retries it, then dead-letters it)
    assert failures == ["poison"]
    assert orders_table.get("1", "A") is not None
    assert orders_table.get("2", "B") is not None
    assert orders_table.count() == 2
    [error] = [line for line in captured.logs() if line["level"] == "ERROR"]
    assert error["message_id"] == "poison"
    assert error["reason"] in {"malformed_json", "invalid_order", "invalid_stamp"}
    assert error["receive_count"] == "2"
    assert captured.metric_total("RecordsFailed", reason=error["reason"]) == 1
    assert captured.metric_total("OrdersDeadLettered") == 0  # receive 2 of 5: not yet


def test_a_record_failing_its_last_receive_is_counted_as_dead_lettered(
    orders_table: TableProbe, captured: Captured
) -> None:
    # Given a poison message on its fifth (last allowed) receive, and a good one
    failures = run(
        sqs_record("not json", message_id="poison", receive_count=5),
        sqs_record(message({"order_id": "1", "item": "A"}), message_id="good", receive_count=5),
    )
    # Then only the poison is reported, and counted and logged as going to the DLQ
    assert failures == ["poison"]
    assert captured.metric_total("OrdersDeadLettered") == 1
    dead = [line for line in captured.logs() if "dead-letter" in line["message"]]
    assert [line["message_id"] for line in dead] == ["poison"]


def test_a_batch_where_every_record_fails_raises(orders_table: TableProbe) -> None:
    # As Powertools' BatchProcessor did: the invocation fails, the whole batch is redelivered
    with pytest.raises(BatchProcessingError):
        run(sqs_record("not json"), sqs_record("{}"))
    assert orders_table.count() == 0


def test_the_error_of_a_failed_batch_carries_every_record_s_traceback(
    orders_table: TableProbe,
) -> None:
    with pytest.raises(BatchProcessingError) as caught:
        run(sqs_record("not json"), sqs_record("{}"))

    text = str(caught.value)
    assert text.startswith(
        "All records failed processing. 2 individual errors logged separately below.\n"
    )
    assert text.count("Traceback (most recent call last)") == 2
    assert "InvalidMessage: malformed_json" in text
    assert "InvalidMessage: invalid_stamp" in text


def test_a_record_the_mapping_did_not_shape_fails_alone(orders_table: TableProbe) -> None:
    # Any error, not only the service's, fails its record and no other
    shapeless = sqs_record(message({"order_id": "1", "item": "A"}), message_id="shapeless")
    del shapeless["attributes"]

    failures = run(shapeless, sqs_record(message({"order_id": "2", "item": "B"})))

    assert failures == ["shapeless"]
    assert orders_table.get("1", "A") is None
    assert orders_table.get("2", "B") is not None


@pytest.mark.parametrize("event", [{}, {"Records": []}, {"Records": "x"}])
def test_an_event_without_records_fails_the_invocation(
    orders_table: TableProbe, event: dict[str, Any]
) -> None:
    with pytest.raises(BatchProcessingError):
        process_handler.lambda_handler(event, FakeContext())


# --- transient DynamoDB errors -----------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        throttled("ProvisionedThroughputExceededException"),
        throttled("ThrottlingException"),
        throttled("RequestLimitExceeded"),
        throttled("InternalServerError"),
        throttled("ServiceUnavailable"),
        ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com"),
    ],
    ids=lambda error: type(error).__name__ if not isinstance(error, ClientError) else None,
)
def test_transient_errors_are_retried_then_the_write_succeeds(
    orders_table: TableProbe,
    monkeypatch: pytest.MonkeyPatch,
    captured: Captured,
    error: Exception,
) -> None:
    # Given DynamoDB fails twice, then recovers
    clock = FakeClock(remaining_ms=30_000)
    client = FlakyDynamoDb([error, error])
    use_table_client(monkeypatch, orders_table, client, clock)

    # When a record arrives
    failures = run(
        sqs_record(message({"order_id": "1", "item": "Kopi"})), context=FakeContext(clock=clock)
    )

    # Then it was written on the third attempt, after two growing backoffs
    assert failures == []
    assert client.calls == 3
    assert orders_table.get("1", "Kopi") is not None
    assert clock.sleeps == [0.05, 0.1]
    assert captured.metric_total("WriteRetries") == 2
    assert captured.metric_total("OrdersStored") == 1


def test_throttling_beyond_the_time_budget_fails_only_that_record(
    orders_table: TableProbe, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    # Given the hot order is throttled forever and little time is left
    clock = FakeClock(remaining_ms=4_000)
    client = FlakyDynamoDb([], forever_for="hot")
    use_table_client(monkeypatch, orders_table, client, clock)

    # When it shares a batch with a healthy order
    failures = run(
        sqs_record(message({"order_id": "hot", "item": "Kopi"}), message_id="hot"),
        sqs_record(message({"order_id": "cold", "item": "Kopi"}), message_id="cold"),
        context=FakeContext(clock=clock),
    )

    # Then the hot record is reported, the cold one stored, and no sleep broke the margin
    assert failures == ["hot"]
    assert orders_table.get("cold", "Kopi") is not None
    assert orders_table.get("hot", "Kopi") is None
    assert clock.remaining_ms >= RetryPolicy().safety_margin_ms
    assert len(clock.sleeps) >= 1
    assert captured.metric_total("RecordsFailed", reason="write_budget_exhausted") == 1


def test_retries_stop_after_max_attempts_even_with_time_left(
    orders_table: TableProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = FakeClock(remaining_ms=900_000)
    client = FlakyDynamoDb([], forever_for="hot")
    use_table_client(monkeypatch, orders_table, client, clock)

    failures = run(
        sqs_record(message({"order_id": "hot", "item": "Kopi"}), message_id="hot"),
        sqs_record(message({"order_id": "cold", "item": "Kopi"}), message_id="cold"),
        context=FakeContext(clock=clock),
    )

    assert failures == ["hot"]
    # the cold record's single call, plus every attempt on the hot one
    assert client.calls == RetryPolicy().max_attempts + 1


def test_no_write_is_started_without_time_for_it(
    orders_table: TableProbe, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given less time left than one call may take
    clock = FakeClock(remaining_ms=RetryPolicy().safety_margin_ms - 1)
    client = FlakyDynamoDb([])
    use_table_client(monkeypatch, orders_table, client, clock)

    # Then the records fail without touching DynamoDB (the whole batch: the invocation fails)
    with pytest.raises(BatchProcessingError):
        run(
            sqs_record(message({"order_id": "1", "item": "Kopi"})), context=FakeContext(clock=clock)
        )
    assert client.calls == 0


def test_non_transient_errors_fail_the_record_without_retrying(
    orders_table: TableProbe, monkeypatch: pytest.MonkeyPatch, captured: Captured
) -> None:
    clock = FakeClock()
    client = FlakyDynamoDb([throttled("ValidationException")])
    use_table_client(monkeypatch, orders_table, client, clock)

    failures = run(
        sqs_record(message({"order_id": "1", "item": "A"}), message_id="rejected"),
        sqs_record(message({"order_id": "2", "item": "B"}), message_id="ok"),
        context=FakeContext(clock=clock),
    )

    assert failures == ["rejected"]
    assert client.calls == 2
    assert clock.sleeps == []
    assert captured.metric_total("RecordsFailed", reason="write_rejected") == 1


# --- configuration -----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:No application metrics")
def test_missing_table_name_fails_loudly_before_any_record(aws: None) -> None:
    with pytest.raises(SettingsError, match="ORDERS_TABLE_NAME"):
        run(sqs_record(message({"order_id": "1", "item": "Kopi"})))


# --- the ledger's fields ---------------------------------------------------------------


def test_an_order_with_an_amount_is_stored_with_it_exactly(
    orders_queue: QueueProbe, orders_table: TableProbe
) -> None:
    # Given an order that went through ingest with a customer, an amount and the currency
    order = {"order_id": "7", "item": "Kopi", "customer_id": "C-7", "amount": "-12.5"}
    assert invoke(json_event({**order, "currency": "IDR"})).status == 202
    [queued] = orders_queue.drain()

    # When process receives it
    assert run(sqs_record(queued["body"], message_id=queued["message_id"])) == []

    # Then the item carries what the aggregator's stream filter looks for: a Number amount
    stored = orders_table.get("7", "Kopi")
    assert stored is not None
    assert (stored["customer_id"], stored["currency"]) == ("C-7", "IDR")
    assert stored["amount"] == Decimal("-12.50")
    raw = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=orders_table.name, Key={"order_id": {"S": "7"}, "item": {"S": "Kopi"}}
    )
    (kind,) = raw["Item"]["amount"]
    assert kind == "N"


def test_a_message_in_another_currency_fails_and_is_never_stored(
    orders_table: TableProbe, captured: Captured, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a message ingest accepted while the ledger counted in IDR ...
    body = json.dumps(
        {
            **json.loads(message({"order_id": "8", "item": "Teh"})),
            "customer_id": "C-8",
            "amount": 5,
            "currency": "IDR",
        }
    )
    # ... read by a process deployed for USD
    monkeypatch.setenv("LEDGER_CURRENCY", "USD")
    process_handler.get_settings.cache_clear()
    process_handler.get_service.cache_clear()

    plain = message({"order_id": "9", "item": "Teh"})  # no ledger fields: valid anywhere

    # Then the record is reported failed (the DLQ keeps it after its receives), not stored
    assert run(sqs_record(body, message_id="m-usd"), sqs_record(plain)) == ["m-usd"]
    assert orders_table.get("8", "Teh") is None
    assert orders_table.get("9", "Teh") is not None
    assert captured.metric_total("RecordsFailed", reason="invalid_order") == 1
