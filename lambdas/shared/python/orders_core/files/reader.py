"""Reading a partner's file as a stream of lines, whatever its size.

The bytes arrive in chunks (from S3); at most one line (``MAX_LINE_BYTES``) plus one
chunk is held at a time. A longer line is skipped without being held, and reported.

Format: by extension (``.csv``; ``.jsonl``/``.ndjson``), else by sniffing: a first
non-blank line starting with ``{`` is JSON Lines, anything else CSV.

- CSV: a header row naming the columns (the Transaction fields, any order, no others),
  then one transaction per line. Quoted fields may not span lines.
- JSON Lines: one JSON object per line; numbers are read as exact decimals.

Blank lines are skipped. Line numbers count every physical line from 1 (the CSV header
is line 1). A file that cannot be read at all raises UnreadableFile before the first
line: binary (a NUL byte) or not UTF-8 in its first ``SNIFF_BYTES``, or a CSV file
without a valid header. Past that, a line that is not UTF-8 is one rejected line.
"""

import codecs
import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from itertools import chain
from typing import Any, Final

from orders_core.files.model import OPTIONAL_FIELDS, REQUIRED_FIELDS, Transaction, reason_of
from orders_core.jsonutil import InvalidJson, parse_json
from orders_core.limits import KIB
from orders_core.validation import Invalid

MAX_LINE_BYTES: Final = 16 * KIB
SNIFF_BYTES: Final = 64 * KIB
_BOM: Final = codecs.BOM_UTF8
FILE_LEVEL: Final = 0
"""The line number of a report entry about the whole file."""


class FileFormat(StrEnum):
    CSV = "csv"
    JSON_LINES = "jsonl"


_EXTENSIONS: Final = {
    ".csv": FileFormat.CSV,
    ".jsonl": FileFormat.JSON_LINES,
    ".ndjson": FileFormat.JSON_LINES,
}


class UnreadableFile(Exception):
    """The file as a whole cannot be read; reported as one entry, nothing is written."""

    def __init__(self, reason: str, line: int = FILE_LEVEL) -> None:
        super().__init__(reason)
        self.reason = reason
        self.line = line


@dataclass(frozen=True, slots=True)
class LineResult:
    """One non-blank line: a transaction, or the reason it was refused."""

    line: int
    transaction: Transaction | None = None
    reason: str | None = None


def split_lines(
    chunks: Iterable[bytes], max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, bytes | None]]:
    """(line number, bytes without the newline), or None for a line over the limit."""
    number = 0
    pending = b""
    too_long = False
    for chunk in chunks:
        start = 0
        while True:
            end = chunk.find(b"\n", start)
            if end < 0:
                if not too_long:
                    tail = chunk[start:]
                    if len(pending) + len(tail) > max_line_bytes:
                        too_long, pending = True, b""
                    else:
                        pending += tail
                break
            number += 1
            piece = chunk[start:end]
            if too_long or len(pending) + len(piece) > max_line_bytes:
                yield number, None
            else:
                yield number, pending + piece if pending else piece
            pending, too_long = b"", False
            start = end + 1
    if pending or too_long:
        yield number + 1, None if too_long else pending


def detect_format(key: str, first_line: str | None) -> FileFormat:
    lowered = key.lower()
    for extension, file_format in _EXTENSIONS.items():
        if lowered.endswith(extension):
            return file_format
    if first_line is not None and first_line.lstrip().startswith("{"):
        return FileFormat.JSON_LINES
    return FileFormat.CSV


def _sniff(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """Check the first SNIFF_BYTES (binary? UTF-8?) and give back the whole stream."""
    head: list[bytes] = []
    size = 0
    whole = True  # the sample is the whole file
    for chunk in chunks:
        head.append(chunk)
        size += len(chunk)
        if size >= SNIFF_BYTES:
            whole = False
            break
    sample = b"".join(head)[:SNIFF_BYTES]
    if b"\x00" in sample:
        raise UnreadableFile("the file is binary, not text (it contains NUL bytes)")
    try:
        # Unless the file ends here, a multi-byte character cut by the sample's end is fine.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=whole)
    except UnicodeDecodeError:
        raise UnreadableFile("the file is not UTF-8 text") from None
    return chain(head, chunks)


def _decode(number: int, raw: bytes) -> str | LineResult:
    if number == 1 and raw.startswith(_BOM):
        raw = raw[len(_BOM) :]
    try:
        return raw.decode("utf-8").rstrip("\r")
    except UnicodeDecodeError:
        return LineResult(number, reason="the line is not valid UTF-8")


def _text_lines(chunks: Iterator[bytes]) -> Iterator[tuple[int, str | LineResult]]:
    """Non-blank lines as text, or a LineResult rejecting an unreadable line."""
    for number, raw in split_lines(chunks):
        if raw is None:
            reason = f"the line is longer than {MAX_LINE_BYTES} bytes"
            yield number, LineResult(number, reason=reason)
            continue
        text = _decode(number, raw)
        if isinstance(text, str) and not text.strip():
            continue
        yield number, text


def open_transactions(
    chunks: Iterable[bytes], *, key: str, ledger_currency: str
) -> Iterator[LineResult]:
    """Validate the file's start (raises UnreadableFile) and return its lines' results."""
    lines = _text_lines(_sniff(iter(chunks)))
    first = next(lines, None)
    first_text = first[1] if first is not None and isinstance(first[1], str) else None
    file_format = detect_format(key, first_text)
    if file_format is FileFormat.JSON_LINES:
        rest = lines if first is None else chain([first], lines)
        return _json_lines(rest, ledger_currency)
    if first is None:
        raise UnreadableFile("the file has no header row (it is empty)")
    if first_text is None:
        raise UnreadableFile("the header row cannot be read", line=first[0])
    columns = _header(first_text, first[0])
    return _csv_lines(lines, columns, ledger_currency)


def _validate(number: int, data: dict[str, Any], ledger_currency: str) -> LineResult:
    try:
        return LineResult(number, transaction=Transaction.parse(data, ledger_currency))
    except Invalid as exc:
        return LineResult(number, reason=reason_of(exc))


def _json_lines(
    lines: Iterator[tuple[int, str | LineResult]], ledger_currency: str
) -> Iterator[LineResult]:
    for number, text in lines:
        if isinstance(text, LineResult):
            yield text
            continue
        try:
            data = parse_json(text)
        except InvalidJson as exc:
            yield LineResult(number, reason=exc.message)
            continue
        if not isinstance(data, dict):
            yield LineResult(number, reason="the line is not a JSON object")
            continue
        yield _validate(number, data, ledger_currency)


def _split_csv(text: str) -> list[str]:
    return next(csv.reader([text], strict=True))


def _header(text: str, number: int) -> tuple[str, ...]:
    try:
        names = tuple(name.strip() for name in _split_csv(text))
    except csv.Error as exc:
        raise UnreadableFile(f"the header row is not valid CSV: {exc}", line=number) from None
    known = set(REQUIRED_FIELDS) | set(OPTIONAL_FIELDS)
    unknown = [name for name in names if name not in known]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    missing = [name for name in REQUIRED_FIELDS if name not in names]
    problems = []
    if missing:
        problems.append(f"lacks {', '.join(missing)}")
    if unknown:
        problems.append(f"has unknown columns {', '.join(repr(name[:40]) for name in unknown[:5])}")
    if duplicated:
        problems.append(f"repeats {', '.join(duplicated)}")
    if problems:
        raise UnreadableFile(f"the header row {'; '.join(problems)}", line=number)
    return names


def _csv_lines(
    lines: Iterator[tuple[int, str | LineResult]],
    columns: tuple[str, ...],
    ledger_currency: str,
) -> Iterator[LineResult]:
    width = len(columns)
    for number, text in lines:
        if isinstance(text, LineResult):
            yield text
            continue
        try:
            fields = _split_csv(text)
        except csv.Error as exc:
            yield LineResult(number, reason=f"the line is not valid CSV: {exc}")
            continue
        if len(fields) != width:
            yield LineResult(number, reason=f"expected {width} fields, found {len(fields)}")
            continue
        yield _validate(number, dict(zip(columns, fields, strict=True)), ledger_currency)
