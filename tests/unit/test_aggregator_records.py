"""From stream records to ledger changes: sources, what an image counts, what it does not."""

from decimal import Decimal, Inexact
from typing import Any

import pytest
from orders_core.aggregator.records import (
    LedgerChange,
    Posting,
    UnknownRecord,
    change_of,
    posting_of,
    source_of,
)
from orders_core.aggregator.stream import image, sequence_number
from orders_core.batch import BatchProcessingError, process_batch


def change(keys: dict[str, Any], new: dict[str, Any], old: dict[str, Any]) -> LedgerChange:
    return change_of(
        keys=keys, new_image=new, old_image=old, sequence_number="100", ledger_currency="IDR"
    )


def test_sources_name_transactions_and_order_items_unambiguously() -> None:
    assert source_of({"transaction_id": "T-1"}) == "tx#T-1"
    assert source_of({"order_id": "o1", "item": "Kopi"}) == "order#o1#Kopi"
    # "a#b" + "c" and "a" + "b#c" would both read order#a#b#c without escaping
    assert source_of({"order_id": "a#b", "item": "c"}) != source_of(
        {"order_id": "a", "item": "b#c"}
    )
    assert source_of({"order_id": "50%", "item": "x"}) == "order#50%25#x"


def test_a_source_too_long_for_a_key_becomes_a_digest() -> None:
    keys = {"order_id": "\U0001f600" * 256, "item": "\U0001f600" * 256}

    source = source_of(keys)

    assert source.startswith("order#~")
    assert len(source.encode()) <= 2048
    assert source == source_of(dict(keys))


def test_records_of_any_other_table_are_refused() -> None:
    with pytest.raises(UnknownRecord):
        source_of({"customer_id": "c1"})


@pytest.mark.parametrize(
    ("image", "posting", "reason"),
    [
        ({}, None, None),  # removed
        ({"order_id": "1", "item": "Kopi"}, None, None),  # an order without an amount
        (
            {"customer_id": "c1", "amount": Decimal("12.5"), "currency": "IDR"},
            Posting("c1", Decimal("12.50")),
            None,
        ),
        ({"customer_id": "c1", "amount": Decimal("-3")}, Posting("c1", Decimal("-3.00")), None),
        ({"customer_id": "c1", "amount": Decimal("0.001")}, None, "at most 2 decimal places"),
        ({"customer_id": "c1", "amount": "12"}, Posting("c1", Decimal("12.00")), None),
        ({"customer_id": "c1", "amount": True}, None, "amount must be"),
        ({"customer_id": "c1", "amount": 1, "currency": "USD"}, None, "currency must be IDR"),
        ({"amount": Decimal(5)}, None, "customer_id is missing"),
        ({"customer_id": "c1"}, None, "amount must be"),
        ({"customer_id": " ", "amount": 1}, None, "customer_id is missing"),
        ({"customer_id": "c" * 257, "amount": 1}, None, "longer than 256"),
    ],
)
def test_what_an_image_counts(
    image: dict[str, Any], posting: Posting | None, reason: str | None
) -> None:
    got, why = posting_of(image, "IDR")

    assert got == posting
    if reason is None:
        assert why is None
    else:
        assert reason in (why or "")


def test_the_change_carries_the_new_state_and_the_old_images_customer() -> None:
    got = change(
        {"transaction_id": "T-1"},
        {"transaction_id": "T-1", "customer_id": "c2", "amount": Decimal(5)},
        {"transaction_id": "T-1", "customer_id": "c1", "amount": Decimal(5)},
    )

    assert got == LedgerChange(
        source="tx#T-1", sequence=100, new=Posting("c2", Decimal("5.00")), old_customer_id="c1"
    )


def test_sequence_numbers_compare_as_numbers_not_text() -> None:
    keys, image = {"transaction_id": "t"}, {"customer_id": "c", "amount": 1}
    short = change_of(
        keys=keys, new_image=image, old_image={}, sequence_number="999", ledger_currency="IDR"
    )
    long = change_of(
        keys=keys, new_image=image, old_image={}, sequence_number="1000", ledger_currency="IDR"
    )

    assert short.sequence < long.sequence


def test_a_record_without_a_sequence_number_is_refused() -> None:
    with pytest.raises(UnknownRecord):
        change_of(
            keys={"transaction_id": "t"},
            new_image={},
            old_image={},
            sequence_number=None,
            ledger_currency="IDR",
        )


def test_images_read_dynamodb_json_as_python_values() -> None:
    stream = {
        "NewImage": {
            "amount": {"N": "12.50"},
            # 41 digits, only trailing zeros past 38: DynamoDB's spelling of 1E+40
            "big": {"N": "1" + "0" * 40},
            "name": {"S": "Budi"},
            "raw": {"B": b"\x00"},
            "tags": {"SS": ["a", "b"]},
            "nested": {"L": [{"NULL": True}, {"M": {"ok": {"BOOL": True}}}]},
        }
    }

    assert image(stream, "NewImage") == {
        "amount": Decimal("12.50"),
        "big": Decimal("1E+40"),
        "name": "Budi",
        "raw": b"\x00",
        "tags": {"a", "b"},
        "nested": [None, {"ok": True}],
    }
    assert image(stream, "OldImage") == {}
    with pytest.raises(Inexact):
        image({"Keys": {"n": {"N": "1" * 39}}}, "Keys")
    with pytest.raises(TypeError, match="Dynamodb type X is not supported"):
        image({"Keys": {"n": {"X": "1"}}}, "Keys")


def test_a_batch_reports_each_failed_record_by_its_sequence_number_in_order() -> None:
    def handle(record: dict[str, Any]) -> None:
        if record["dynamodb"]["SequenceNumber"] in {"2", "4"}:
            raise ValueError("poison")

    batch = {"Records": [{"dynamodb": {"SequenceNumber": str(n)}} for n in range(1, 6)]}

    assert process_batch(batch, handle, sequence_number, source="a DynamoDB stream event") == {
        "batchItemFailures": [{"itemIdentifier": "2"}, {"itemIdentifier": "4"}]
    }
    assert process_batch(
        batch, lambda record: None, sequence_number, source="a DynamoDB stream event"
    ) == {"batchItemFailures": []}


def test_a_batch_whose_every_record_fails_raises_so_it_is_retried_whole() -> None:
    def handle(record: dict[str, Any]) -> None:
        raise ValueError(f"poison {record['dynamodb']['SequenceNumber']}")

    batch = {"Records": [{"dynamodb": {"SequenceNumber": "1"}}, {"dynamodb": {}}]}

    with pytest.raises(BatchProcessingError) as raised:
        process_batch(batch, handle, sequence_number, source="a DynamoDB stream event")

    text = str(raised.value)
    assert text.startswith("All records failed processing. 2 individual errors logged")
    assert "ValueError: poison 1" in text


def test_a_failed_record_without_its_dynamodb_section_fails_the_whole_batch() -> None:
    def handle(record: dict[str, Any]) -> None:
        if "dynamodb" not in record:
            raise ValueError("no dynamodb section")

    batch = {"Records": [{"dynamodb": {"SequenceNumber": "1"}}, {"eventID": "x"}]}

    with pytest.raises(ValueError, match="cannot be reported"):
        process_batch(batch, handle, sequence_number, source="a DynamoDB stream event")
