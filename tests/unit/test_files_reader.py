"""Reading partner files: lines, formats, the Transaction model, every reject reason."""

from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from orders_core.files.model import Transaction, format_utc
from orders_core.files.reader import (
    MAX_LINE_BYTES,
    SNIFF_BYTES,
    FileFormat,
    LineResult,
    UnreadableFile,
    detect_format,
    open_transactions,
    split_lines,
)
from orders_core.validation import Invalid

from tests.unit.ledger_support import csv_text

GOOD = "t1,c1,15000.50,IDR,2025-01-31T12:00:00+07:00,Budi,budi@example.com"


def read(data: bytes | str, key: str = "incoming/f.csv", chunk: int = 7) -> list[LineResult]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    chunks = (raw[i : i + chunk] for i in range(0, len(raw), chunk))
    return list(open_transactions(chunks, key=key, ledger_currency="IDR"))


def reasons(results: list[LineResult]) -> dict[int, str]:
    return {r.line: r.reason for r in results if r.reason is not None}


# --- lines ---------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None, derandomize=True)
@given(
    lines=st.lists(st.binary(max_size=30).map(lambda b: b.replace(b"\n", b"")), max_size=20),
    trailing_newline=st.booleans(),
    cuts=st.lists(st.integers(1, 40), min_size=1, max_size=10),
)
def test_lines_come_out_the_same_however_the_stream_is_chunked(
    lines: list[bytes], trailing_newline: bool, cuts: list[int]
) -> None:
    data = b"\n".join(lines) + (b"\n" if trailing_newline and lines else b"")
    chunks, position, index = [], 0, 0
    while position < len(data):
        size = cuts[index % len(cuts)]
        chunks.append(data[position : position + size])
        position, index = position + size, index + 1

    got = list(split_lines(iter(chunks), max_line_bytes=1000))

    expected = data.split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()
    assert got == list(enumerate(expected, start=1))


def test_a_line_over_the_limit_is_skipped_without_being_held() -> None:
    def chunks() -> Iterator[bytes]:
        yield b"short\n"
        for _ in range(1000):  # a 1 MB line, arriving 1 KiB at a time
            yield b"x" * 1024
        yield b"\nnext\n"

    got = list(split_lines(chunks(), max_line_bytes=4096))

    assert got == [(1, b"short"), (2, None), (3, b"next")]


@pytest.mark.parametrize(
    ("key", "first", "expected"),
    [
        ("incoming/a.CSV", "{", FileFormat.CSV),
        ("incoming/a.jsonl", "transaction_id", FileFormat.JSON_LINES),
        ("incoming/a.ndjson", None, FileFormat.JSON_LINES),
        ("incoming/a.txt", '  {"transaction_id": 1}', FileFormat.JSON_LINES),
        ("incoming/a", "transaction_id,amount", FileFormat.CSV),
        ("incoming/a", None, FileFormat.CSV),
    ],
)
def test_format_by_extension_else_by_sniffing(
    key: str, first: str | None, expected: FileFormat
) -> None:
    assert detect_format(key, first) is expected


# --- CSV -----------------------------------------------------------------------------------


def test_a_valid_csv_line_becomes_a_transaction_normalized_to_utc() -> None:
    [result] = read(csv_text(GOOD))

    assert result.line == 2
    assert result.transaction is not None
    assert asdict(result.transaction) == {
        "transaction_id": "t1",
        "customer_id": "c1",
        "amount": Decimal("15000.50"),
        "currency": "IDR",
        "occurred_at": "2025-01-31T05:00:00.000000Z",
        "customer_name": "Budi",
        "customer_email": "budi@example.com",
    }


def test_columns_in_any_order_optional_ones_may_be_absent_or_empty() -> None:
    text = "\ufeffamount,occurred_at,customer_id,transaction_id,currency,customer_name\r\n"
    text += (
        "-250,2025-01-31T00:00:00Z,c9,r1,idr,\r\n\r\n   \n7,2025-02-01T00:00:00Z,c9,r2,IDR,Ana\r\n"
    )

    results = read(text, chunk=3)

    assert [(r.line, r.reason) for r in results] == [(2, None), (5, None)]
    refund, named = (r.transaction for r in results)
    assert refund is not None
    assert named is not None
    assert refund.amount == Decimal("-250.00")
    assert refund.currency == "IDR"
    assert refund.customer_name is None
    assert named.customer_name == "Ana"


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("t1,c1,12.345,IDR,2025-01-31T00:00:00Z,,", "amount must have at most 2 decimal places"),
        ("t1,c1,1e3,IDR,2025-01-31T00:00:00Z,,", "amount must be a plain decimal"),
        ("t1,c1,,IDR,2025-01-31T00:00:00Z,,", "amount must be a plain decimal"),
        ("t1,c1,12,USD,2025-01-31T00:00:00Z,,", "currency must be IDR"),
        ("t1, ,12,IDR,2025-01-31T00:00:00Z,,", "customer_id must not be empty or blank"),
        (",c1,12,IDR,2025-01-31T00:00:00Z,,", "transaction_id must not be empty or blank"),
        ("t1,c1,12,IDR,2025-01-31T00:00:00,,", "occurred_at needs a UTC offset"),
        ("t1,c1,12,IDR,2025-01-31,,", "occurred_at needs a UTC offset"),
        ("t1,c1,12,IDR,yesterday,,", "occurred_at must be an ISO 8601 date-time"),
        ("t1,c1,12,IDR,2025-01-31T00:00:00Z,,not-an-email", "customer_email must look like"),
        ("t1,c1,12,IDR,2025-01-31T00:00:00Z,Budi", "expected 7 fields, found 6"),
        ('t1,c1,12,IDR,2025-01-31T00:00:00Z,"Budi,', "the line is not valid CSV"),
        ("t1,c1," + "9" * 29 + ",IDR,2025-01-31T00:00:00Z,,", "amount must be between"),
        ("t" * 257 + ",c1,12,IDR,2025-01-31T00:00:00Z,,", "transaction_id must be at most 256"),
    ],
)
def test_every_csv_reject_reason(row: str, reason: str) -> None:
    results = read(csv_text(GOOD.replace("t1", "t0"), row))

    assert results[0].transaction is not None
    assert results[1].transaction is None
    assert reason in (results[1].reason or "")


def test_a_line_that_is_not_utf8_or_too_long_is_one_rejected_line() -> None:
    # Past the first SNIFF_BYTES (blank lines here), a bad line no longer condemns the file.
    latin1 = "t2,c1,1,IDR,2025-01-31T00:00:00Z,José,".encode("latin-1")
    too_long = b"t3,c1,1,IDR,2025-01-31T00:00:00Z," + b"x" * MAX_LINE_BYTES + b","
    padding = b"\n" * (SNIFF_BYTES + 1)
    data = (
        csv_text(GOOD).encode()
        + padding
        + b"\n".join([latin1, too_long, b"t4" + GOOD[2:].encode()])
    )

    results = read(data, chunk=4096)

    assert [r.reason for r in results if r.reason] == [
        "the line is not valid UTF-8",
        f"the line is longer than {MAX_LINE_BYTES} bytes",
    ]
    assert [r.transaction.transaction_id for r in results if r.transaction] == ["t1", "t4"]


# --- JSON Lines ----------------------------------------------------------------------------


def test_json_lines_numbers_and_strings_are_exact_and_every_reason_reported() -> None:
    lines = [
        '{"transaction_id": 1, "customer_id": 7, "amount": 15000.5, "currency": "IDR",'
        ' "occurred_at": "2025-01-31T12:00:00Z"}',
        '{"transaction_id": "t2", "customer_id": "7", "amount": "-0.10", "currency": "IDR",'
        ' "occurred_at": "2025-01-31T12:00:00.123456789+00:00"}',
        '{"transaction_id": "t3", "customer_id": "7", "amount": 0.105, "currency": "IDR",'
        ' "occurred_at": "2025-01-31T12:00:00Z"}',
        '{"transaction_id": "t4", "customer_id": "7", "amount": 1, "currency": "IDR",'
        ' "occurred_at": "2025-01-31T12:00:00Z", "note": "x"}',
        '{"transaction_id": "t5", "customer_id": "7", "amount": 1, "currency": "IDR"}',
        '{"transaction_id": "t6", "transaction_id": "t7"}',
        '{"transaction_id": "t8", "customer_id": "7", "amount": NaN}',
        "[1, 2]",
        "{not json",
        '{"transaction_id": "t9", "customer_id": "7", "amount": true, "currency": "IDR",'
        ' "occurred_at": "2025-01-31T12:00:00Z"}',
    ]

    results = read("\n".join(lines), key="incoming/f.jsonl")

    first, second = results[0].transaction, results[1].transaction
    assert first is not None
    assert second is not None
    assert (first.transaction_id, first.customer_id, first.amount) == (
        "1",
        "7",
        Decimal("15000.50"),
    )
    assert second.amount == Decimal("-0.10")
    assert second.occurred_at == "2025-01-31T12:00:00.123456Z"
    assert reasons(results) == {
        3: "amount must have at most 2 decimal places",
        4: "note is not a known field",
        5: "occurred_at is missing",
        6: "an object has a duplicate key",
        7: "NaN is not a valid JSON number",
        8: "the line is not a JSON object",
        9: "malformed JSON at line 1 column 2",
        10: 'amount must be a JSON number or a string such as "12.50"',
    }


# --- unreadable files ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "key", "line", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "incoming/f.csv", 0, "binary"),
        ("transaction_id\n".encode("utf-16"), "incoming/f.csv", 0, "binary"),
        ("transaction_id,customer_id\nJosé".encode("latin-1"), "incoming/f.csv", 0, "not UTF-8"),
        (b"", "incoming/f.csv", 0, "no header row"),
        (b"\n\n", "incoming/f.csv", 0, "no header row"),
        (
            b"transaction_id,customer_id,amount\n",
            "incoming/f.csv",
            1,
            "lacks currency, occurred_at",
        ),
        (
            csv_text(
                header="transaction_id,customer_id,amount,currency,occurred_at,amount"
            ).encode(),
            "incoming/f.csv",
            1,
            "repeats amount",
        ),
        (
            csv_text(
                header="transaction_id,customer_id,amount,currency,occurred_at,ammount"
            ).encode(),
            "incoming/f.csv",
            1,
            "unknown columns 'ammount'",
        ),
        (b'"transaction_id,customer_id\n', "incoming/f.csv", 1, "not valid CSV"),
    ],
)
def test_a_file_that_cannot_be_read_raises_before_any_line(
    data: bytes, key: str, line: int, reason: str
) -> None:
    with pytest.raises(UnreadableFile) as raised:
        read(data, key=key)

    assert raised.value.line == line
    assert reason in raised.value.reason


def test_an_empty_json_lines_file_is_just_empty() -> None:
    assert read(b"", key="incoming/f.jsonl") == []


# --- the model -----------------------------------------------------------------------------

zones = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
moments = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=datetime(9999, 12, 30), timezones=zones
)


@given(a=moments, b=moments)
def test_normalized_occurred_at_sorts_as_time_does(a: datetime, b: datetime) -> None:
    text_a, text_b = (
        Transaction.parse(
            {
                "transaction_id": "t",
                "customer_id": "c",
                "amount": 1,
                "currency": "IDR",
                "occurred_at": moment.isoformat(),
            },
            "IDR",
        ).occurred_at
        for moment in (a, b)
    )

    assert (text_a < text_b) == (a < b)
    assert len(text_a) == len(text_b) == len("2025-01-31T05:00:00.000000Z")
    assert text_a == format_utc(a.astimezone(UTC))


def test_a_timestamp_that_leaves_the_calendar_in_utc_is_refused() -> None:
    with pytest.raises(Invalid, match="outside the years"):
        Transaction.parse(
            {
                "transaction_id": "t",
                "customer_id": "c",
                "amount": 1,
                "currency": "IDR",
                "occurred_at": "0001-01-01T00:30:00+01:00",
            },
            "IDR",
        )


def test_a_line_reason_names_every_problem_known_fields_first_then_unknown_ones() -> None:
    line = '{"transaction_id": "", "zz": 1, "amount": "x", "customer_name": 5, "aa": null}'

    [result] = read(line, key="incoming/f.jsonl")

    assert result.reason == (
        "transaction_id must not be empty or blank; customer_id is missing; "
        "amount must be a plain decimal such as 12.50 or -3; currency is missing; "
        "occurred_at is missing; customer_name must be a string; "
        "zz is not a known field; aa is not a known field"
    )
