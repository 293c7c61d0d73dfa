"""Lambda's event filtering (FilterCriteria) over a record, as event source mappings apply it.

A pattern is a JSON object whose leaves are lists of allowed values or rules, matched
against the record (for a DynamoDB stream: ``eventName``, ``dynamodb.Keys``,
``dynamodb.NewImage.<attr>.<type>``...). Lists OR their entries; keys AND each other;
``$or`` ORs whole sub-patterns; a mapping's filters OR each other. Rules: exact values
(strings, numbers, booleans, null), ``prefix``, ``suffix``, ``equals-ignore-case``,
``anything-but`` (values, or a prefix/suffix rule), ``numeric`` (on JSON numbers: DynamoDB's
``N`` values are strings and never match it, as on AWS), ``exists``, ``cidr``, ``wildcard``.
"""

from __future__ import annotations

import ipaddress
import json
import operator
import re
from collections.abc import Callable
from typing import Any

_MISSING = object()
_NUMERIC: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    ">=": operator.ge,
    ">": operator.gt,
}


def _same(value: Any, wanted: Any) -> bool:
    # true is not 1 and 1 is not "1" in a pattern
    if isinstance(value, bool) or isinstance(wanted, bool):
        return isinstance(value, bool) and isinstance(wanted, bool) and value == wanted
    return (type(value) is type(wanted) and value == wanted) or (
        isinstance(value, int | float) and isinstance(wanted, int | float) and value == wanted
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _wildcard(value: str, pattern: str) -> bool:
    regex = "".join(".*" if c == "*" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _string_rule(name: str, wanted: Any, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if isinstance(wanted, dict) and "equals-ignore-case" in wanted:
        target = str(wanted["equals-ignore-case"]).lower()
        text = value.lower()
    else:
        target, text = str(wanted), value
    if name == "prefix":
        return text.startswith(target)
    if name == "suffix":
        return text.endswith(target)
    if name == "equals-ignore-case":
        return value.lower() == str(wanted).lower()
    if name == "wildcard":
        return _wildcard(value, str(wanted))
    return False


def _rule(rule: dict[str, Any], value: Any) -> bool:  # noqa: PLR0911 - one return per rule
    ((name, wanted),) = rule.items()
    if name == "exists":
        return (value is not _MISSING) == bool(wanted)
    if value is _MISSING:
        return False
    if name in {"prefix", "suffix", "equals-ignore-case", "wildcard"}:
        return _string_rule(name, wanted, value)
    if name == "anything-but":
        if isinstance(wanted, dict):
            return isinstance(value, str) and not _rule(wanted, value)
        excluded = wanted if isinstance(wanted, list) else [wanted]
        return not any(_same(value, w) for w in excluded)
    if name == "numeric":
        if not _is_number(value):
            return False
        pairs = zip(wanted[::2], wanted[1::2], strict=False)
        return all(_NUMERIC[op](value, bound) for op, bound in pairs)
    if name == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(wanted, strict=False)
        except ValueError:
            return False
    raise ValueError(f"unsupported filter rule {name!r}")


def _values(allowed: list[Any], value: Any) -> bool:
    candidates = value if isinstance(value, list) else [value]
    for entry in allowed:
        if isinstance(entry, dict):
            if value is _MISSING and _rule(entry, _MISSING):
                return True
            if any(_rule(entry, c) for c in candidates if c is not _MISSING):
                return True
        elif value is not _MISSING and any(_same(c, entry) for c in candidates):
            return True
    return False


def matches(pattern: dict[str, Any], event: Any) -> bool:
    """Whether one filter pattern matches the record."""
    for key, wanted in pattern.items():
        if key == "$or":
            if not any(matches(p, event) for p in wanted):
                return False
            continue
        value = event.get(key, _MISSING) if isinstance(event, dict) else _MISSING
        if isinstance(wanted, dict):
            if not matches(wanted, value if isinstance(value, dict) else {}):
                return False
        elif isinstance(wanted, list):
            if not _values(wanted, value):
                return False
        else:
            raise ValueError(f"pattern value for {key!r} must be an object or a list")
    return True


def parse_filters(filter_criteria: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The patterns of a mapping's FilterCriteria ({"Filters": [{"Pattern": "<json>"}]})."""
    patterns = []
    for entry in (filter_criteria or {}).get("Filters") or []:
        pattern = entry.get("Pattern")
        patterns.append(json.loads(pattern) if isinstance(pattern, str) else dict(pattern))
    return patterns


def passes(patterns: list[dict[str, Any]], record: Any) -> bool:
    """No filters pass everything; otherwise a record must match at least one."""
    return not patterns or any(matches(p, record) for p in patterns)
