"""Checking what arrives (orders, queue messages, file lines, events) with no framework.

A check is a plain function that returns the value it accepts (possibly converted) or
raises ``Problem``: a stable machine-readable ``kind`` and a message for people. ``Checks``
runs the checks of one input field by field and collects every problem with its location,
so one answer names every bad field; ``Invalid`` carries them out. Its ``details()`` are
the API's error details (``loc``, ``msg``, ``type``, never the input itself).

Why not pydantic, which the functions used before: importing it and building the models
cost every new execution environment about a third as much again as boto3 and its first
client (docs/decisions.md, "Cold init"). The rules were already plain functions; this
module is the little glue they need.
"""

from collections.abc import Callable, Container, Mapping, Sequence
from typing import Any, Final, TypeVar

T = TypeVar("T")
Loc = tuple[str | int, ...]

MISSING_KIND: Final = "missing"
MISSING_MESSAGE: Final = "Field required"  # the words clients have always been given
EXTRA_KIND: Final = "extra_forbidden"
EXTRA_MESSAGE: Final = "Extra inputs are not permitted"


class Problem(ValueError):
    """One thing wrong with an input: ``kind`` is stable, ``message`` is prose, ``loc`` says
    where (empty for the input as a whole)."""

    def __init__(self, kind: str, message: str, loc: Loc = ()) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.loc = loc

    def at(self, *prefix: str | int) -> "Problem":
        """The same problem, located under ``prefix``."""
        return Problem(self.kind, self.message, (*prefix, *self.loc))


class Invalid(ValueError):
    """Everything wrong with one input: at least one ``Problem``."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        if not problems:
            raise ValueError("Invalid needs at least one problem")
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self.summary())

    def details(self) -> list[dict[str, Any]]:
        """Client-safe details: where, what, and the machine-readable type (no input echo)."""
        return [
            {"loc": list(problem.loc), "msg": problem.message, "type": problem.kind}
            for problem in self.problems
        ]

    def summary(self) -> str:
        """One line for logs: each failing location and its message."""
        return "; ".join(
            f"{'.'.join(str(part) for part in problem.loc) or '<input>'}: {problem.message}"
            for problem in self.problems
        )

    def at(self, *prefix: str | int) -> "Invalid":
        return Invalid([problem.at(*prefix) for problem in self.problems])


def string(value: Any) -> str:
    """A check: any string (another JSON type is a problem)."""
    if not isinstance(value, str):
        raise Problem("string_type", "Input should be a valid string")
    return value


class Checks:
    """The problems found so far in one input; ``done()`` raises them all at once."""

    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, problem: Problem) -> None:
        self.problems.append(problem)

    def value(self, loc: str | int, check: Callable[[Any], T], value: Any) -> T | None:
        """``check(value)``, or None with the problem recorded under ``loc``."""
        try:
            return check(value)
        except Problem as problem:
            self.problems.append(problem.at(loc))
        except Invalid as invalid:
            self.problems.extend(problem.at(loc) for problem in invalid.problems)
        return None

    def required(self, data: Mapping[str, Any], name: str, check: Callable[[Any], T]) -> T | None:
        """The field ``name`` of ``data`` through ``check``; its absence is a problem."""
        if name not in data:
            self.problems.append(Problem(MISSING_KIND, MISSING_MESSAGE, (name,)))
            return None
        return self.value(name, check, data[name])

    def optional(self, data: Mapping[str, Any], name: str, check: Callable[[Any], T]) -> T | None:
        """The field ``name`` through ``check``; absent or JSON null means None."""
        value = data.get(name)
        return None if value is None else self.value(name, check, value)

    def only_known(self, data: Mapping[str, Any], known: Container[str]) -> None:
        """Every field of ``data`` outside ``known`` is a problem, at its name, in order."""
        for name in data:
            if name not in known:
                self.problems.append(Problem(EXTRA_KIND, EXTRA_MESSAGE, (name,)))

    def done(self) -> None:
        if self.problems:
            raise Invalid(self.problems)
