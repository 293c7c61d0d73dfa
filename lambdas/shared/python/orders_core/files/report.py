"""The rejected-lines report: one JSON line ``{"line": n, "reason": "..."}`` per refused line.

Entries are spooled: kept in memory up to ``SPOOL_BYTES``, then in a temporary file
(Lambda's /tmp), so a file with a million bad lines does not grow the heap.
"""

import tempfile
from types import TracebackType
from typing import IO, Final, Self

from orders_core.jsonutil import dumps_json
from orders_core.limits import KIB

SPOOL_BYTES: Final = 1024 * KIB
MAX_REASON_CHARS: Final = 500


class RejectReport:
    def __init__(self, spool_bytes: int = SPOOL_BYTES) -> None:
        # Closed by close()/__exit__: the report lives as long as its file's processing.
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=spool_bytes, mode="w+b"
        )
        self.entries = 0

    def add(self, line: int, reason: str) -> None:
        entry = {"line": line, "reason": reason[:MAX_REASON_CHARS]}
        self._file.write(dumps_json(entry).encode("utf-8") + b"\n")
        self.entries += 1

    def rewound(self) -> IO[bytes]:
        """The report's bytes, from the start (for an upload)."""
        self._file.flush()
        self._file.seek(0)
        return self._file

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
