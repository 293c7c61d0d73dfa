"""The emulation process's speed patches of moto: same answers, the expensive work done once.

Each test applies one patch in this process (moto's classes are restored afterwards) and
compares what moto answers with and without it.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from moto import backends
from moto.core import responses
from moto.core.utils import method_names_from_class
from moto.dynamodb.comparisons import ConditionExpressionParser, get_filter_expression
from moto.dynamodb.exceptions import InvalidTokenException
from moto.dynamodb.models.dynamo_type import Item
from moto.dynamodb.parsing.expressions import UpdateExpressionParser
from moto.dynamodb.parsing.tokens import ExpressionTokenizer
from moto.dynamodb.responses import DynamoHandler
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.responses import S3Response
from moto.sqs.responses import SQSResponse

from local_cloud.services import moto_patches

UPDATES = [
    "SET #t = if_not_exists(#t, :zero) + :amt, #n = #n + :one REMOVE pending",
    "SET a.b[2] = list_append(a.b, :l)  ADD c :one DELETE s :set",
    "REMOVE #x[1], y",
]
CONDITIONS = [
    "attribute_not_exists(#r) OR #r < :rev",
    "begins_with(#t, :p) AND size(#n) BETWEEN :zero AND :rev",
    "NOT (#t IN (:p, :q)) AND attribute_type(#n, :s)",
]
NAMES = {"#r": "rev", "#t": "total", "#n": "count", "#x": "list"}
VALUES = {
    ":rev": {"N": "3"},
    ":zero": {"N": "0"},
    ":p": {"S": "to"},
    ":q": {"S": "other"},
    ":s": {"S": "N"},
}


@pytest.fixture
def restore(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every attribute the patches replace is put back after the test."""
    for owner, name in [
        (DomainDispatcherApplication, "get_backend_for_host"),
        (ExpressionTokenizer, "make_list"),
        (ConditionExpressionParser, "_lex_condition_expression"),
        (responses, "method_names_from_class"),
    ]:
        monkeypatch.setattr(owner, name, vars(owner)[name])


def _counting(monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> list[int]:
    calls = [0]
    original = vars(owner)[name]

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_a_backend_is_found_once_per_host(restore: None, monkeypatch: pytest.MonkeyPatch) -> None:
    dispatcher = DomainDispatcherApplication(create_backend_app)
    hosts = [
        "dynamodb",
        "dynamodbstreams",
        "sqs.eu-west-1.amazonaws.com",
        "s3.us-east-1.amazonaws.com",
        "lambda.eu-west-1.amazonaws.com",
        "moto_api",
    ]
    unknown = [None, "nothing.example.com"]
    before = [dispatcher.get_backend_for_host(host) for host in hosts + unknown]
    listings = _counting(monkeypatch, backends, "list_of_moto_modules")
    moto_patches.route_requests_without_rescanning_moto()

    first = [dispatcher.get_backend_for_host(host) for host in hosts]
    listed = listings[0]
    again = [dispatcher.get_backend_for_host(host) for host in hosts for _ in range(3)]

    assert first == before[: len(hosts)]
    assert again == [backend for backend in first for _ in range(3)]
    assert listings[0] == listed  # no listing of moto's package for a host seen before
    assert [dispatcher.get_backend_for_host(host) for host in unknown] == [None, None]
    assert DomainDispatcherApplication(create_backend_app).get_backend_for_host("dynamodb") == (
        "dynamodb"
    )


def _tree(node: Any) -> Any:
    """An AST (or token list) as plain data, to compare two parses."""
    if isinstance(node, list):
        return [_tree(child) for child in node]
    if hasattr(node, "__dict__"):
        return (
            type(node).__name__,
            {key: _tree(value) for key, value in vars(node).items() if key != "parent"},
        )
    return node


def _ops(expression: str) -> list[Any]:
    op = get_filter_expression(expression, NAMES, VALUES)
    items = [
        Item(None, None, {"pk": {"S": "a"}}),  # type: ignore[arg-type]
        Item(
            None,  # type: ignore[arg-type]
            None,
            {"total": {"S": "total"}, "count": {"S": "abc"}, "rev": {"N": "1"}},
        ),
    ]
    return [repr(op), *(op.expr(item) for item in items)]


def test_dynamodb_expressions_are_tokenized_once(
    restore: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokenized = _counting(monkeypatch, ExpressionTokenizer, "_make_list")
    lexed = _counting(monkeypatch, ConditionExpressionParser, "_lex_one_node")
    tokens_before = [ExpressionTokenizer.make_list(e) for e in UPDATES]
    trees_before = [_tree(UpdateExpressionParser.make(e)) for e in UPDATES]
    lexed_before = [
        ConditionExpressionParser(e, NAMES, VALUES)._lex_condition_expression() for e in CONDITIONS
    ]
    lexing_once = lexed[0]  # regex matches to lex each condition once
    ops_before = [_ops(e) for e in CONDITIONS]
    tokenized[0] = lexed[0] = 0
    moto_patches.tokenize_dynamodb_expressions_once()

    for _ in range(3):
        tokens = [ExpressionTokenizer.make_list(e) for e in UPDATES]
        assert tokens == tokens_before
        assert [_tree(t) for t in tokens] == [_tree(t) for t in tokens_before]
        assert [_tree(UpdateExpressionParser.make(e)) for e in UPDATES] == trees_before
        lexed_now = [
            ConditionExpressionParser(e, NAMES, VALUES)._lex_condition_expression()
            for e in CONDITIONS
        ]
        assert lexed_now == lexed_before
        assert [_ops(e) for e in CONDITIONS] == ops_before
    assert tokenized[0] == len(UPDATES)  # once per expression
    assert lexed[0] == lexing_once

    again = ExpressionTokenizer.make_list(UPDATES[0])
    again[0].value = "changed"  # what a caller does to its tokens stays with it
    again.clear()
    assert ExpressionTokenizer.make_list(UPDATES[0]) == tokens_before[0]
    nodes = ConditionExpressionParser(CONDITIONS[0], NAMES, VALUES)._lex_condition_expression()
    nodes[0].children.append("changed")
    nodes.clear()
    assert (
        ConditionExpressionParser(CONDITIONS[0], NAMES, VALUES)._lex_condition_expression()
        == lexed_before[0]
    )


@pytest.mark.parametrize(
    "expression", ["SET a = :v ; b", "SET #a.b! = :v", "SET a = :v$", "SET #1a$ = :v"]
)
def test_a_rejected_expression_raises_every_time(
    restore: None, monkeypatch: pytest.MonkeyPatch, expression: str
) -> None:
    with pytest.raises(Exception) as without:  # noqa: PT011 - compared below
        ExpressionTokenizer.make_list(expression)
    moto_patches.tokenize_dynamodb_expressions_once()
    for _ in range(2):
        with pytest.raises(type(without.value)) as raised:
            ExpressionTokenizer.make_list(expression)
        assert str(raised.value) == str(without.value)
    with pytest.raises(InvalidTokenException):
        ExpressionTokenizer.make_list("SET a = :v ; b")
    for _ in range(2):
        with pytest.raises(ValueError, match="Cannot parse condition"):
            ConditionExpressionParser("a = :v ; b", {}, {":v": {"S": "x"}}).parse()


@pytest.mark.parametrize("cls", [DynamoHandler, SQSResponse, S3Response])
def test_response_methods_are_found_without_listing_the_class(
    restore: None, monkeypatch: pytest.MonkeyPatch, cls: type
) -> None:
    listed = method_names_from_class(cls)
    names = {*dir(cls), *listed, "not_an_action", "__init__", "__class__", "mro", "", "region"}
    moto_patches.find_response_methods_directly()
    listings = _counting(monkeypatch, inspect, "getmembers")
    found = responses.method_names_from_class(cls)  # type: ignore[attr-defined]

    assert {name for name in names if name in found} == set(listed)
    assert listings[0] == 0  # membership looked up, the class not listed
    assert list(found) == listed
