"""Shared code shipped as an asset-backed layer (lands on sys.path as <layer>/python)."""

GREETING = "from-layer"


def table_key(order_id: str) -> dict[str, str]:
    return {"pk": order_id}
