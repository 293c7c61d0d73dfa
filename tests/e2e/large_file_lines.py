"""The transactions the large-file test and `make bench` upload (no pytest here, so the
bench can import it): the same lines, whichever path reads them, with a known set of
lines the file path must reject."""

from __future__ import annotations

import json
from typing import Any

CUSTOMERS = 30


def lines(prefix: str, count: int, customers: int = CUSTOMERS) -> list[str]:
    """JSON Lines: valid transactions (refunds too), and now and then a bad one."""
    out = []
    for n in range(count):
        line: dict[str, Any] = {
            "transaction_id": f"{prefix}T-{n:05d}",
            "customer_id": f"{prefix}C-{n % customers:03d}",
            "amount": f"{(n * 37) % 5000 - 800}.{n % 100:02d}",
            "currency": "IDR",
            "occurred_at": f"2025-01-{1 + n % 28:02d}T{n % 24:02d}:15:00+07:00",
            "customer_name": f"Customer {n % customers}",
        }
        if n % 97 == 5:
            line["amount"] = "12.345"  # more than 2 places
        elif n % 97 == 41:
            line["currency"] = "USD"  # not the ledger currency
        elif n % 97 == 77:
            del line["occurred_at"]
        text = json.dumps(line)
        if n % 211 == 13:
            text = text[:-9]  # not JSON
        out.append(text)
    return out


def rejected(count: int) -> int:
    """How many of ``lines(prefix, count)`` the file path rejects."""
    return sum(1 for n in range(count) if n % 97 in (5, 41, 77) or n % 211 == 13)
