"""What moto needs changed in the emulation process (each change is listed in README.md).

Applied in the emulation process only, before moto's server starts: the runner's own
process never imports moto's backends.
"""

from __future__ import annotations

import collections
import contextlib
import copy
import inspect
import itertools
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from local_cloud.deploy.template_prep import references

HOOK_TIMEOUT_S = 960.0  # past Lambda's 15-minute maximum function timeout
MAX_SHARD_ITERATORS = 10_000  # the newest are kept (AWS expires them after 15 minutes)


class _NoEventSourceMappings:
    """Replaces moto's per-queue mapping dict with one that is always empty.

    On SendMessage moto itself receives from a queue that has a mapping and invokes the
    function through Docker (moto/sqs/models.py, ``lambda_event_source_mappings``). There is
    no Docker engine here, and those receives would steal messages from the runner, which
    is the only consumer: the mappings still exist in the Lambda backend
    (ListEventSourceMappings), only moto's own delivery is switched off.
    """

    def __get__(self, instance: object, owner: type | None = None) -> dict[str, Any]:
        return {}

    def __set__(self, instance: object, value: object) -> None:
        pass


def disable_moto_sqs_delivery() -> None:
    """Patch moto's SQS queues so moto never consumes messages for a mapping."""
    from moto.sqs.models import Queue  # noqa: PLC0415 - moto loads only in the emulation process

    Queue.lambda_event_source_mappings = _NoEventSourceMappings()  # type: ignore[assignment]


# A TransactWriteItems in progress on this thread: its stream records wait here, emitted
# only when it commits (see make_dynamodb_writes_atomic).
_TRANSACTION = threading.local()


def stream_dynamodb_changes_without_delivering_them() -> None:
    """Keep every DynamoDB stream record, in order, for the runner's stream pollers.

    moto invokes a stream's mapped functions itself inside every write (through Docker)
    and, when that "succeeds", clears the shard's records, after which sequence numbers
    (``len(records) + start``) start again from the beginning: the same numbers twice.
    The emulation process switches that delivery off (tables report no mappings, as queues
    do), numbers records under a lock (concurrent writes could share a number), stamps the
    table's region (moto writes us-east-1), writes no record for a put or update that
    changes nothing (as DynamoDB; moto wrote a MODIFY with equal images), and bounds the
    shard iterators moto keeps (one per GetRecords, forever).
    """
    from moto.dynamodb.models.table import StreamRecord, StreamShard, Table  # noqa: PLC0415
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend  # noqa: PLC0415

    Table.lambda_event_source_mappings = _NoEventSourceMappings()  # type: ignore[assignment]
    lock = threading.Lock()

    def add(self: Any, old: Any, new: Any) -> None:
        if old is not None and new is not None and old.to_json() == new.to_json():
            return  # DynamoDB Streams writes no record for a write that changes no data
        pending = getattr(_TRANSACTION, "records", None)
        if pending is not None:
            pending.append((self, old, new))
            return
        view = self.table.stream_specification["StreamViewType"]
        event_name = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
        with lock:
            number = len(self.items) + self.starting_sequence_number
            record = StreamRecord(self.table, view, event_name, old, new, number)
            record.record["awsRegion"] = self.table.region_name
            self.items.append(record)

    StreamShard.add = add  # type: ignore[method-assign]
    original_get_records = DynamoDBStreamsBackend.get_records

    def get_records(self: Any, iterator_arn: str, limit: int) -> dict[str, Any]:
        answer: dict[str, Any] = original_get_records(self, iterator_arn, limit)
        while len(self.shard_iterators) > MAX_SHARD_ITERATORS:
            del self.shard_iterators[next(iter(self.shard_iterators))]
        return answer

    DynamoDBStreamsBackend.get_records = get_records  # type: ignore[method-assign]


class _CopyKeepingTables:
    """moto.dynamodb.models' ``copy``, except that a Table is not copied (see below)."""

    def __init__(self, table_type: type) -> None:
        self._table_type = table_type

    def deepcopy(self, value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, self._table_type) else copy.deepcopy(value, memo)


def make_dynamodb_writes_atomic() -> None:
    """Conditional writes and transactions atomic, as DynamoDB's are, in moto's threaded
    server.

    moto checks a write's condition and then writes, with nothing between two requests:
    two conditional writes of one item (two updates of a customer's total, each
    conditioned on the revision it read) could both pass and one be lost. Its
    TransactWriteItems deep-copied every table it names first (its rollback), which a
    concurrent write to that table crashed ("dictionary changed size during iteration",
    a 500) or, on rollback, silently undid; and which costs the whole table on every
    transaction. Here one lock orders every PutItem, UpdateItem, DeleteItem (BatchWriteItem
    is made of those) and TransactWriteItems; a transaction keeps a copy of only the items
    it names, puts them back if it is cancelled, and its stream records are emitted when
    it commits (none if it is cancelled).

    Reads take the same lock, for the whole request: moto makes an UpdateItem's new item by
    storing its key alone and then applying the update to it in place, and a cancelled
    transaction's writes stand until they are put back, so a Scan, Query or GetItem in
    between (the response is built from the live items after the backend returns) saw an
    item with only its key, or one that never committed. DynamoDB's reads return only
    committed items.
    """
    from moto.dynamodb import models  # noqa: PLC0415
    from moto.dynamodb.models.table import Table  # noqa: PLC0415
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415

    backend = models.DynamoDBBackend
    lock = threading.RLock()

    def locked(method: Any) -> Any:
        def run(self: Any, *args: Any, **kwargs: Any) -> Any:
            with lock:
                return method(self, *args, **kwargs)

        return run

    for name in ("put_item", "update_item", "delete_item"):
        setattr(backend, name, locked(getattr(backend, name)))
    models.copy = _CopyKeepingTables(Table)  # type: ignore[assignment,attr-defined]
    original = backend.transact_write_items

    def touched(self: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]]:
        """(table, key, a copy of the item or None) for each item the transaction names."""
        found = []
        for entry in transact_items:
            for op in entry.values():
                name = op.get("TableName") if isinstance(op, dict) else None
                if name not in self.tables:
                    continue
                table = self.tables[name]
                key = op.get("Key")
                if key is None and isinstance(op.get("Item"), dict):
                    names = [table.hash_key_attr, table.range_key_attr]
                    key = {k: op["Item"][k] for k in names if k and k in op["Item"]}
                if isinstance(key, dict):
                    with contextlib.suppress(Exception):  # moto itself reports a bad key
                        found.append((name, key, copy.deepcopy(self.get_item(name, key))))
        return found

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with lock:
            saved = touched(self, transact_items)
            records: list[tuple[Any, Any, Any]] = []
            _TRANSACTION.records = records
            try:
                original(self, transact_items)
            except BaseException:
                for name, key, item in saved:  # as they were; their records are dropped
                    if item is None:
                        self.delete_item(name, key)
                    else:
                        self.put_item(name, item.to_json()["Attributes"])
                raise
            finally:
                _TRANSACTION.records = None
            for shard, old, new in records:
                shard.add(old, new)

    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    # every DynamoDB request, its answer serialized inside (the lock is re-entrant)
    DynamoHandler.call_action = locked(DynamoHandler.call_action)  # type: ignore[method-assign]


def speed_up_moto_sqs_clock() -> None:
    """Give moto's SQS a cheap clock: it reads it for every message on every call.

    moto computes each message's visibility from ``unix_time_millis()``, which builds two
    datetimes per call, and scans the whole queue on every send and receive: with 1,500
    messages queued a ReceiveMessage took 1.3 s, a SendMessageBatch 0.3 s (measured here).
    ``time.time()`` gives the same value (seconds since the epoch, UTC) about ten times
    faster; calls with an explicit datetime keep moto's own conversion.
    """
    import moto.sqs.models as sqs_models  # noqa: PLC0415 - emulation process only

    unix_time = sqs_models.unix_time  # type: ignore[attr-defined]
    unix_time_millis = sqs_models.unix_time_millis  # type: ignore[attr-defined]

    def fast_unix_time(dt: Any = None) -> float:
        return time.time() if dt is None else float(unix_time(dt))

    def fast_unix_time_millis(dt: Any = None) -> float:
        return time.time() * 1000.0 if dt is None else float(unix_time_millis(dt))

    sqs_models.unix_time = fast_unix_time  # type: ignore[attr-defined]
    sqs_models.unix_time_millis = fast_unix_time_millis  # type: ignore[attr-defined]


MAX_CACHED = 4096  # entries per cache below; past that, answers are computed as moto does


def route_requests_without_rescanning_moto() -> None:
    """Remember which backend serves a host, instead of finding it again on every request.

    moto's server finds the backend for every request by listing its own package directory
    (``os.listdir`` and an ``isdir`` per entry, ``backends.list_of_moto_modules``) and then
    matching the host against each backend's URL regexes, under the dispatcher's lock. The
    answer depends only on the host, that directory (fixed while the process runs) and the
    dispatcher's patterns (moto's index, never changed): it is kept per host for each
    dispatcher and patterns list. Hosts no backend serves are not kept (moto prints its
    hint for those every time).
    """
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication  # noqa: PLC0415

    find = DomainDispatcherApplication.get_backend_for_host
    # per dispatcher: the patterns list its answers were found with, and host -> backend
    kept: weakref.WeakKeyDictionary[Any, tuple[object, dict[str, Any]]]
    kept = weakref.WeakKeyDictionary()

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        if not isinstance(host, str):
            return find(self, host)
        patterns, found = kept.get(self, (None, {}))
        if patterns is not self.backend_url_patterns:
            patterns, found = self.backend_url_patterns, {}
            kept[self] = (patterns, found)
        backend = found.get(host)
        if backend is None:
            backend = find(self, host)
            if backend is not None and len(found) < MAX_CACHED:
                found[host] = backend
        return backend

    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host  # type: ignore[method-assign]


def tokenize_dynamodb_expressions_once() -> None:
    """Tokenize each distinct DynamoDB expression once.

    moto reads UpdateExpressions (``ExpressionTokenizer.make_list``) and Condition, Filter
    and KeyCondition expressions (``ConditionExpressionParser._lex_condition_expression``)
    character by character, twice per write (its request handler checks the names an
    expression uses, its backend parses it again), though a service sends the same few
    expressions over and over. Both depend on the expression string alone: the tokens of
    each are kept (their type and text, immutable) and every call gets new token objects,
    equal to the ones moto makes; an expression moto rejects is not kept, so it raises the
    same error every time. What the tokens become (the parse tree, which moto's validator
    changes, and the names and values it resolves) is computed on every call, as before.
    """
    from moto.dynamodb.comparisons import ConditionExpressionParser  # noqa: PLC0415
    from moto.dynamodb.parsing.tokens import ExpressionTokenizer, Token  # noqa: PLC0415

    make_list = ExpressionTokenizer.make_list.__func__  # type: ignore[attr-defined]
    tokens: dict[tuple[type, str], tuple[tuple[Any, str], ...]] = {}

    def new_token(token_type: Any, value: str) -> Any:
        token = Token.__new__(Token)
        token.type = token_type
        token.value = value
        return token

    def cached_make_list(cls: type, input_expression_str: str) -> list[Any]:
        if not isinstance(input_expression_str, str):
            return make_list(cls, input_expression_str)
        key = (cls, input_expression_str)
        kept = tokens.get(key)
        if kept is None:
            made = make_list(cls, input_expression_str)
            if len(tokens) < MAX_CACHED:
                tokens[key] = tuple((token.type, token.value) for token in made)
            return made  # type: ignore[no-any-return]
        return [new_token(token_type, value) for token_type, value in kept]

    ExpressionTokenizer.make_list = classmethod(cached_make_list)  # type: ignore[method-assign,assignment]

    lex = ConditionExpressionParser._lex_condition_expression
    nodes: dict[tuple[type, str], tuple[tuple[Any, ...], ...]] = {}

    def lex_condition_expression(self: Any) -> Any:
        expression = self.condition_expression
        if not isinstance(expression, str):
            return lex(self)
        key = (type(self), expression)
        kept = nodes.get(key)
        if kept is None:
            lexed = lex(self)
            if len(nodes) < MAX_CACHED and all(not node.children for node in lexed):
                nodes[key] = tuple(tuple(node)[:-1] for node in lexed)  # children: []
            return lexed
        node_type = self.Node
        return collections.deque(node_type(*fields, []) for fields in kept)

    ConditionExpressionParser._lex_condition_expression = lex_condition_expression  # type: ignore[method-assign]


class _FunctionNames:
    """The names ``inspect.getmembers(cls, inspect.isfunction)`` lists, as a container.

    ``name in`` it answers as that list would, by looking the one name up; iterating it
    makes the list.
    """

    def __init__(self, cls: type) -> None:
        self._cls = cls

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return name in list(self)
        cls = self._cls
        for base in cls.__mro__:  # dir(cls): the names in the classes of its MRO
            if name in vars(base):
                break
        else:
            return False
        try:
            value = getattr(cls, name)
        except AttributeError:  # as inspect.getmembers: the raw value of the class's dict
            value = vars(base)[name]
        return inspect.isfunction(value)

    def __iter__(self) -> Any:
        return iter([name for name, _ in inspect.getmembers(self._cls, inspect.isfunction)])


def find_response_methods_directly() -> None:
    """Check that a response class has the requested action without listing all its members.

    Every request, moto's ``BaseResponse.call_action`` lists the functions of the response
    class (``method_names_from_class``: ``inspect.getmembers``, a getattr of each of its
    several hundred names) only to ask whether the action's method is among them. The
    emulation process gives it a container that answers that question for the one name,
    with the same rules (the name is in the class's MRO and getattr gives a function); the
    class is looked at on every request, so nothing is remembered.
    """
    from moto.core import responses  # noqa: PLC0415

    responses.method_names_from_class = _FunctionNames  # type: ignore[attr-defined,assignment]


def apply_visibility_timeout_at_delivery() -> None:
    """Give a message the queue's visibility timeout as it is when the message is received.

    moto reads the queue's VisibilityTimeout when a ReceiveMessage call starts; a long poll
    (up to 20 s) that was already waiting when SetQueueAttributes changed it hands out
    messages with the old value (an operator shortening a 181 s timeout saw the first
    batch come back three minutes later). SQS applies the timeout in force at delivery;
    so does this, for calls that do not set their own VisibilityTimeout.
    """
    from moto.sqs.models import SQSBackend  # noqa: PLC0415 - emulation process only
    from moto.sqs.responses import SQSResponse  # noqa: PLC0415

    receive_response = SQSResponse.receive_message
    receive = SQSBackend.receive_message
    call = threading.local()

    def response(self: Any) -> Any:
        call.queue_default = self._get_param("VisibilityTimeout") is None
        try:
            return receive_response(self)
        finally:
            call.queue_default = False

    def backend_receive(
        self: Any, queue_name: str, count: int, wait: int, visibility: int, *args: Any
    ) -> Any:
        messages = receive(self, queue_name, count, wait, visibility, *args)
        if not messages or not getattr(call, "queue_default", False):
            return messages  # the call set its own timeout, or nothing was delivered
        queue = self.get_queue(queue_name)
        if queue.visibility_timeout != visibility:  # changed while the call waited
            handles = {message.receipt_handle for message in messages}
            for message in list(queue.pending_messages):
                if message.receipt_handle in handles:
                    message.change_visibility(queue.visibility_timeout)
        return messages

    SQSResponse.receive_message = response  # type: ignore[method-assign]
    SQSBackend.receive_message = backend_receive  # type: ignore[method-assign,assignment]


def _header(headers: Any, name: str) -> str | None:
    for key, value in dict(headers or {}).items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def call_hook(hook_url: str, path: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST to the runner's hook; (status, JSON answer)."""
    data = json.dumps(request).encode()
    http_request = urllib.request.Request(  # noqa: S310 - the runner's own loopback endpoint
        hook_url + path, data=data, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(http_request, timeout=HOOK_TIMEOUT_S) as response:  # noqa: S310
            status, body = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, body = error.code, error.read()
    return status, (json.loads(body) if body else {})


def route_lambda_invocations(hook_url: str) -> None:
    """Hand every invocation moto makes to the runner's execution environments.

    moto calls ``LambdaFunction.invoke`` for the Invoke API, S3 notifications, EventBridge
    targets, SNS subscriptions and CloudFormation custom resources, and would run the
    function in Docker. Internal callers pass no request headers: they invoke
    asynchronously, as the AWS services do; the Invoke API says which type it wants.
    """
    from moto.awslambda.exceptions import LambdaClientError  # noqa: PLC0415
    from moto.awslambda.models import LambdaFunction  # noqa: PLC0415
    from moto.awslambda.responses import LambdaResponse  # noqa: PLC0415

    class InvokeRefused(LambdaClientError):
        def __init__(self, status: int, error: str, message: str) -> None:
            super().__init__(error, message)
            self.code = status

    def invoke(self: Any, body: Any, request_headers: Any, response_headers: Any) -> str:
        if isinstance(body, bytes):
            body = body.decode("utf-8", "surrogateescape")
        internal = not request_headers
        kind = "Event" if internal else _header(request_headers, "X-Amz-Invocation-Type")
        kind = kind or "RequestResponse"
        request = {"function": self.function_arn, "type": kind, "payload": body or "{}"}
        status, answer = call_hook(hook_url, "/invoke", request)
        if status >= 400:
            raise InvokeRefused(
                status, str(answer.get("errorType")), str(answer.get("errorMessage"))
            )
        if kind != "RequestResponse":
            return ""  # moto answers 202 (Event) or 204 (DryRun) with no payload
        response_headers["X-Amz-Executed-Version"] = "$LATEST"
        if "error" in answer:
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(answer["error"])
        return str(answer.get("payload", "null"))

    def invoke_async(self: Any) -> tuple[int, dict[str, str], str]:
        # The deprecated InvokeAsync API is always asynchronous.
        function_name = self.path.rstrip("/").rsplit("/", 2)[-2]
        fn = self.backend.get_function(urllib.parse.unquote(function_name), None)
        fn.invoke(self.body, {"X-Amz-Invocation-Type": "Event"}, {})
        return 202, {"status": "202"}, json.dumps({"Status": 202})

    LambdaFunction.invoke = invoke  # type: ignore[method-assign]
    LambdaResponse.invoke_async = invoke_async  # type: ignore[method-assign]


def _iso_seconds(value: Any) -> Any:
    """EventBridge's event time (moto keeps a float of seconds)."""
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return value


def _target_input(target: dict[str, Any], event: dict[str, Any]) -> Any:
    """What a rule target receives: the event, or its Input / InputPath / InputTransformer."""
    from moto.events.utils import EventTemplateParser  # noqa: PLC0415

    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        node: Any = event
        for part in str(target["InputPath"]).removeprefix("$").strip(".").split("."):
            node = node.get(part) if part and isinstance(node, dict) else node
        return node
    transformer = target.get("InputTransformer")
    if transformer:
        text = EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=event,  # type: ignore[arg-type]
        )
        return json.loads(text) if isinstance(text, str) else text
    return event


def deliver_rule_targets_to_lambda(hook_url: str) -> None:
    """EventBridge rules invoke their Lambda targets (asynchronously, through the runner).

    moto's rules deliver to logs, SQS, archives and buses only: a Lambda target raises
    NotImplementedError, which moto's S3 notifications swallow. A target the runner cannot
    invoke (no such function, payload too large) goes to the target's DeadLetterConfig
    queue with EventBridge's attributes (RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE).
    Disabled rules deliver nothing, as on AWS.
    """
    from moto.events.models import Rule  # noqa: PLC0415
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    original = Rule.send_to_targets

    def dead_letter(rule: Any, target: dict[str, Any], event: Any, code: str, text: str) -> None:
        arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not arn:
            return
        parts = arn.split(":")
        attributes = {
            "RULE_ARN": rule.arn,
            "TARGET_ARN": target["Arn"],
            "ERROR_CODE": code,
            "ERROR_MESSAGE": text,
        }
        sqs_backends[parts[4]][parts[3]].send_message(
            parts[5],
            json.dumps(event),
            message_attributes={
                k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()
            },
        )

    def send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
        if not str(getattr(self, "state", None) or "ENABLED").startswith("ENABLED"):
            return
        if not self.event_pattern.matches_event(original_event):
            return
        lambdas = [t for t in self.targets if str(t.get("Arn", "")).split(":")[2:3] == ["lambda"]]
        others = [t for t in self.targets if t not in lambdas]
        event = {k: v for k, v in copy.deepcopy(original_event).items() if k != "ingestion-time"}
        event["time"] = _iso_seconds(event.get("time"))
        for target in lambdas:
            payload = _target_input(target, event) if transform_input else event
            request = {"function": target["Arn"], "type": "Event", "payload": json.dumps(payload)}
            try:
                status, answer = call_hook(hook_url, "/invoke", request)
            except OSError as exc:
                status, answer = 500, {"errorType": "ServiceException", "errorMessage": str(exc)}
            if status >= 400:
                code = str(answer.get("errorType"))
                dead_letter(self, target, payload, code, str(answer.get("errorMessage")))
        if others:
            rest = copy.copy(self)
            rest.targets = others
            original(rest, original_event, transform_input)

    Rule.send_to_targets = send_to_targets  # type: ignore[method-assign]


_S3_REASONS = {
    "s3:ObjectCreated:Put": "PutObject",
    "s3:ObjectCreated:Post": "PostObject",
    "s3:ObjectCreated:Copy": "CopyObject",
    "s3:ObjectCreated:CompleteMultipartUpload": "CompleteMultipartUpload",
    "s3:ObjectRemoved:Delete": "DeleteObject",
    "s3:ObjectRemoved:DeleteMarkerCreated": "DeleteObject",
}


def send_s3_events_as_aws_does() -> None:
    """S3's EventBridge notifications, shaped as S3 sends them, to the default bus only.

    moto sends every one with the same id, request id and sequencer, ``time`` as a float,
    ``eTag`` for ``etag``, ``reason`` "ObjectCreated" (S3 says "PutObject", ...) and to the
    rules of every bus; S3 sends to the account's default bus of the bucket's region.
    """
    from moto.s3 import notifications  # noqa: PLC0415

    sequencer = itertools.count(int(time.time() * 1000) << 16)

    def send(account_id: str, bucket: Any, event_name: str, key: Any) -> None:
        from moto.events.models import events_backends  # noqa: PLC0415

        created = "ObjectCreated" in event_name
        detail_object: dict[str, Any] = {"key": key.name}
        if created:
            detail_object.update(size=key.size, etag=key.etag.replace('"', ""))
        if getattr(bucket, "is_versioned", False) and key.version_id:
            detail_object["version-id"] = key.version_id
        detail_object["sequencer"] = f"{next(sequencer):018X}"
        detail: dict[str, Any] = {
            "version": "0",
            "bucket": {"name": bucket.name},
            "object": detail_object,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account_id,
            "source-ip-address": "127.0.0.1",
            "reason": _S3_REASONS.get(event_name, event_name.split(":")[1]),
        }
        if event_name == "s3:ObjectRemoved:DeleteMarkerCreated":
            detail["deletion-type"] = "Delete Marker Created"
        elif "ObjectRemoved" in event_name:
            detail["deletion-type"] = "Permanently Deleted"
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": notifications._detail_type(event_name),
            "source": "aws.s3",
            "account": account_id,
            "time": time.time(),
            "region": bucket.region_name,
            "resources": [bucket.arn],
            "detail": detail,
        }
        backend = events_backends[account_id][bucket.region_name]
        bus = backend.event_buses.get("default")
        for rule in list(bus.rules.values()) if bus is not None else []:
            try:
                rule.send_to_targets(event, transform_input=True)  # type: ignore[arg-type]
            except Exception:  # noqa: S112 - asynchronous on AWS: never fails the S3 call
                continue

    notifications._send_event_bridge_message = send


def _sns_lambda_event(
    subscription: Any,
    message: str,
    message_id: str,
    subject: Any,
    attributes: dict[str, Any] | None,
) -> dict[str, Any]:
    """The event SNS sends a Lambda subscriber (moto's has fixed placeholder values)."""
    topic = subscription.topic.arn
    now = datetime.now(UTC)
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",
                    "SigningCertUrl": "https://sns.local/SimpleNotificationService.pem",
                    "UnsubscribeUrl": f"https://sns.local/?Action=Unsubscribe&SubscriptionArn="
                    f"{subscription.arn}",
                    "MessageAttributes": {
                        name: {"Type": value.get("Type"), "Value": value.get("Value")}
                        for name, value in (attributes or {}).items()
                    },
                },
            }
        ]
    }


def deliver_sns_as_aws_does(hook_url: str) -> None:
    """SNS subscriptions: Lambda through the runner, e-mail to the runner's console.

    moto invokes a Lambda subscriber with a placeholder event (fixed message id and
    attributes, a 1970 timestamp) and sends nothing for e-mail. Lambda subscribers are
    invoked asynchronously with SNS's event; e-mail and email-json subscriptions are handed
    to the runner, which prints one line and appends to ``<log dir>/email.log``. A message
    SNS cannot deliver (a queue that does not exist, a function that cannot be invoked)
    goes to the subscription's RedrivePolicy dead-letter queue, as SNS does. SQS
    subscriptions stay moto's (raw delivery honoured).
    """
    from moto.sns.models import Subscription  # noqa: PLC0415
    from moto.sqs.models import sqs_backends  # noqa: PLC0415

    original = Subscription.publish

    def dead_letter(subscription: Any, message: str, message_id: str, subject: Any) -> None:
        policy = subscription.attributes.get("RedrivePolicy")
        if not policy:
            return
        arn = json.loads(policy).get("deadLetterTargetArn", "")
        parts = arn.split(":")
        envelope = {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": subscription.topic.arn,
            "Subject": subject,
            "Message": message,
            "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        }
        with contextlib.suppress(Exception):  # an undeliverable DLQ loses it, as on AWS
            sqs_backends[parts[4]][parts[3]].send_message(parts[5], json.dumps(envelope))

    def publish(  # noqa: PLR0917 - moto's signature
        self: Any,
        message: str,
        message_id: str,
        subject: Any = None,
        message_attributes: Any = None,
        group_id: Any = None,
        deduplication_id: Any = None,
        message_structure: Any = None,
    ) -> None:
        protocol = self.protocol
        if protocol not in {"lambda", "email", "email-json"}:
            try:
                original(
                    self,
                    message,
                    message_id,
                    subject=subject,
                    message_attributes=message_attributes,
                    group_id=group_id,
                    deduplication_id=deduplication_id,
                    message_structure=message_structure,
                )
            except Exception:
                if protocol != "sqs":
                    raise
                dead_letter(self, message, message_id, subject)
            return
        matcher = self._filter_policy_matcher
        if matcher is not None and not matcher.matches(message_attributes, message):
            return
        if message_structure == "json":
            message = self._parse_message_structure(message, protocol)
        if protocol == "lambda":
            event = _sns_lambda_event(self, message, message_id, subject, message_attributes)
            request = {"function": self.endpoint, "type": "Event", "payload": json.dumps(event)}
            try:
                status, _ = call_hook(hook_url, "/invoke", request)
            except OSError:
                status = 500
            if status >= 400:
                dead_letter(self, message, message_id, subject)
            return
        note = {
            "topic": self.topic.arn,
            "endpoint": self.endpoint,
            "protocol": protocol,
            "subject": subject,
            "message": message,
            "message_id": message_id,
        }
        with contextlib.suppress(OSError):  # the runner is stopping
            call_hook(hook_url, "/email", note)

    Subscription.publish = publish  # type: ignore[method-assign]


def create_ingress_from_prefix_lists() -> None:
    """``AWS::EC2::SecurityGroupIngress`` with ``SourcePrefixListId`` (CloudFront's
    origin-facing list, say): moto's CloudFormation asserts a CIDR or a source group and
    crashes the stack; its EC2 API takes prefix lists, so the rule is authorized there."""
    from moto.ec2.models import ec2_backends  # noqa: PLC0415
    from moto.ec2.models.security_groups import SecurityGroupIngress  # noqa: PLC0415

    original = SecurityGroupIngress.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = cloudformation_json["Properties"]
        prefix_list = properties.get("SourcePrefixListId")
        sources = ("CidrIp", "CidrIpv6", "SourceSecurityGroupId", "SourceSecurityGroupName")
        if not prefix_list or any(properties.get(k) for k in sources):
            return original(
                cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
            )
        backend = ec2_backends[account_id][region_name]
        group_id = properties.get("GroupId")
        group = backend.describe_security_groups(
            group_ids=[group_id] if group_id else None,
            groupnames=None if group_id else [properties.get("GroupName")],
        )[0]
        backend.authorize_security_group_ingress(
            group_name_or_id=group.id,
            ip_protocol=properties.get("IpProtocol"),
            from_port=properties.get("FromPort"),
            to_port=properties.get("ToPort"),
            ip_ranges=[],
            prefix_list_ids=[
                {"PrefixListId": prefix_list, "Description": properties.get("Description", "")}
            ],
        )
        return cls(group, properties)

    SecurityGroupIngress.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]


def print_cloudformation_crashes() -> None:
    """A resource that crashes moto's CloudFormation prints its traceback on the console
    (moto answers a bare 500 page; the deployer names the stack and points here)."""
    import traceback  # noqa: PLC0415

    from moto.cloudformation.models import CloudFormationBackend  # noqa: PLC0415

    original = CloudFormationBackend.create_stack

    def create_stack(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, *args, **kwargs)
        except Exception as exc:
            if not type(exc).__module__.startswith("moto.cloudformation"):
                traceback.print_exc()
            raise

    CloudFormationBackend.create_stack = create_stack  # type: ignore[method-assign]


def name_lambda_versions_by_arn() -> None:
    """``Ref`` of an ``AWS::Lambda::Version`` is the version's ARN (moto gives the logical
    id, so a Lambda@Edge version ARN written to SSM for another region named nothing)."""
    from moto.awslambda.models import LambdaVersion  # noqa: PLC0415

    original = LambdaVersion.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        version = original(
            cls, resource_name, cloudformation_json, account_id, region_name, **kwargs
        )
        function = str(cloudformation_json["Properties"]["FunctionName"])
        if ":function:" not in function:
            function = f"arn:aws:lambda:{region_name}:{account_id}:function:{function}"
        version.physical_resource_id = ":".join([*function.split(":")[:7], str(version.version)])
        return version

    LambdaVersion.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]


# -- ECS (issue 10): tasks run by the runner ----------------------------------------------

RUN_TASK_PATH = "/run-task"  # services/tasks.py serves it
EXIT_MARKER = " [local-cloud exit code "  # services/tasks.py appends it to StopTask's reason


def match_arrays_of_objects_in_event_patterns() -> None:
    """EventBridge patterns match a field inside an array of objects (``containers``'
    ``exitCode`` in ECS's task events) if any element matches; moto's matcher flattened
    only objects and never matched such a field. Arrays of objects now flatten to the
    list of their elements' values, which moto's matcher takes element by element."""
    from moto.events.models import EventPattern  # noqa: PLC0415

    def flatten(node: Any, prefix: str = "", result: dict[str, Any] | None = None) -> Any:
        found: dict[str, Any] = {} if result is None else result
        if isinstance(node, dict):
            for key, value in node.items():
                path = f"{prefix}.{key}" if prefix else key
                if isinstance(value, dict) and value:
                    flatten(value, path, found)
                elif isinstance(value, list) and any(isinstance(v, dict) for v in value):
                    for element in value:
                        inner = flatten(element, path, {}) if isinstance(element, dict) else {}
                        for inner_path, inner_value in (inner or {path: element}).items():
                            values = inner_value if isinstance(inner_value, list) else [inner_value]
                            found.setdefault(inner_path, []).extend(values)
                else:
                    found[path] = value
        return found

    EventPattern._flatten_dict = staticmethod(flatten)  # type: ignore[method-assign]


def route_ecs_tasks(hook_url: str) -> None:
    """RunTask hands every task it creates to the runner, which runs it as a local process
    (services/tasks.py) and stops it here with the exit code when the process ends.

    moto runs nothing: its tasks jump to STOPPED as soon as they are read (its state
    manager's default); they stay RUNNING until the runner stops them now. It sums the
    containers' memory, which a Fargate task definition need not set (only the task's):
    a container without it counts 0. StopTask with the runner's exit-code marker records
    the exit code on the task's container and the stop code.
    """
    from moto.ecs.models import EC2ContainerServiceBackend  # noqa: PLC0415
    from moto.moto_api import state_manager  # noqa: PLC0415

    state_manager.set_transition(
        model_name="ecs::task", transition={"progression": "manual", "times": 10**9}
    )
    original_requirements = EC2ContainerServiceBackend._calculate_task_resource_requirements
    original_run = EC2ContainerServiceBackend.run_task
    original_stop = EC2ContainerServiceBackend.stop_task

    def requirements(task_definition: Any) -> dict[str, Any]:
        patched = copy.copy(task_definition)
        patched.container_definitions = [
            {**c, "memory": c.get("memory") or c.get("Memory") or c.get("memoryReservation") or 0}
            for c in task_definition.container_definitions
        ]
        answer: dict[str, Any] = original_requirements(patched)
        return answer

    def run_task(self: Any, *args: Any, **kwargs: Any) -> Any:
        tasks = original_run(self, *args, **kwargs)
        for task in tasks:
            request = {
                "task": task.task_arn,
                "cluster": task.cluster_arn,
                "taskDefinition": task.task_definition_arn,
                "overrides": task.overrides,
                "startedBy": task.started_by,
                "group": task.group,
            }
            try:
                status, answer = call_hook(hook_url, RUN_TASK_PATH, request)
            except OSError as exc:
                status, answer = 500, {"errorMessage": str(exc)}
            if status >= 400:  # the runner could not take it: the task never starts
                task.last_status = task.desired_status = "STOPPED"
                task.stopped_reason = f"CannotStartContainerError: {answer.get('errorMessage')}"
        return tasks

    def stop_task(self: Any, cluster_str: str, task_str: str, reason: str) -> Any:
        exit_code = None
        if EXIT_MARKER in reason:
            reason, _, code = reason.partition(EXIT_MARKER)
            exit_code = int(code.rstrip("]"))
        task = original_stop(self, cluster_str, task_str, reason)
        for container in task.containers:
            container.last_status = "STOPPED"
            if exit_code is not None:
                container.exitCode = exit_code
        # moto's task has no stop code of its own
        stop_code = "EssentialContainerExited" if exit_code is not None else "UserInitiated"
        setattr(task, "stop_code", stop_code)  # noqa: B010
        return task

    EC2ContainerServiceBackend._calculate_task_resource_requirements = staticmethod(  # type: ignore[method-assign]
        requirements
    )
    EC2ContainerServiceBackend.run_task = run_task  # type: ignore[method-assign]
    EC2ContainerServiceBackend.stop_task = stop_task  # type: ignore[method-assign]


def read_templates_from_this_emulation() -> None:
    """A ``TemplateURL`` on an IP address (the CDK CLI builds it from ``AWS_ENDPOINT_URL``,
    e.g. ``http://127.0.0.1:4566/<bucket>/<key>``) is read path-style: moto takes the
    first label of any host but ``localhost`` and S3's for a bucket (``127``)."""
    import ipaddress  # noqa: PLC0415

    from moto.cloudformation import responses  # noqa: PLC0415

    original = responses.get_stack_from_s3_url  # type: ignore[attr-defined]

    def get_stack_from_s3_url(template_url: str, account_id: str, partition: str) -> str:
        parts = urllib.parse.urlsplit(template_url)
        try:
            ipaddress.ip_address(parts.hostname or "")
        except ValueError:
            return original(template_url, account_id, partition)
        local = parts._replace(netloc=f"localhost:{parts.port or 80}").geturl()
        return original(local, account_id, partition)

    responses.get_stack_from_s3_url = get_stack_from_s3_url  # type: ignore[attr-defined]


def _needs(resource: dict[str, Any]) -> set[str]:
    depends = resource.get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else list(depends)
    return set(references(resource.get("Properties", {}))) | set(depends)


class StackDeletionFailed(Exception):
    """Resources of a stack that could not be deleted, each with its error."""


def _delete_resources(resource_map: Any) -> None:
    """moto's ResourceMap.delete, in reverse dependency order (what nothing left refers
    to first; then, as moto does, anything, for dependencies the template does not show);
    raises StackDeletionFailed naming each resource left and its error."""
    templates = resource_map._resource_json_map
    retained = {"Retain", "RetainExceptOnCreate"}
    remaining = {k for k, v in templates.items() if v.get("DeletionPolicy") not in retained}
    needs = {k: _needs(v) & templates.keys() - {k} for k, v in templates.items()}
    errors: dict[str, Exception] = {}

    def delete_one(logical_id: str) -> bool:
        parsed = resource_map._parsed_resources.get(logical_id)
        try:
            if not isinstance(parsed, str) and parsed is not None:
                resource_map._delete_resource(parsed, templates[logical_id])
                resource_map._parsed_resources.pop(logical_id)
        except Exception as exc:
            errors[logical_id] = exc
            return False
        errors.pop(logical_id, None)
        remaining.discard(logical_id)
        return True

    while remaining:
        free = sorted(k for k in remaining if not any(k in needs[o] for o in remaining))
        if [k for k in free if delete_one(k)]:
            continue
        if [k for k in sorted(remaining) if delete_one(k)]:
            continue
        break
    # What is gone stays gone: moto creates a resource of the map again on any read (a
    # DescribeStacks of the deleted stack, reading its outputs, made a new VPC).
    resource_map._resource_json_map = {
        k: v for k, v in templates.items() if k in resource_map._parsed_resources
    }
    if remaining:
        raise StackDeletionFailed(
            "; ".join(
                f"{k} ({templates[k].get('Type')}): {type(e).__name__}: {e}"
                for k, e in sorted(errors.items())
                if k in remaining
            )
        )


def delete_stacks_as_cloudformation_does() -> None:
    """Stack deletion as CloudFormation runs it.

    moto deletes a stack's resources in no particular order (retrying what fails), so a
    custom resource's provider could go before its Delete event, and a bucket before the
    custom resource that empties it; it deletes a bucket that still holds objects by
    skipping it silently; and a failed deletion answers the DeleteStack call with an error
    and forgets the stack. Here resources go in reverse dependency order (what nothing left
    refers to first; moto's retries stay for dependencies the template does not show), a
    bucket that still holds objects fails the deletion (``BucketNotEmpty``), and a failed
    deletion leaves the stack in ``DELETE_FAILED``, its reason in the stack's events.
    """
    from moto.cloudformation.models import CloudFormationBackend  # noqa: PLC0415
    from moto.cloudformation.parsing import ResourceMap  # noqa: PLC0415
    from moto.s3.exceptions import BucketNotEmpty  # noqa: PLC0415
    from moto.s3.models import FakeBucket, s3_backends  # noqa: PLC0415
    from moto.utilities.utils import get_partition  # noqa: PLC0415

    def delete_bucket(
        cls: Any, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
    ) -> None:
        backend = s3_backends[account_id][get_partition(region_name)]
        if backend.get_bucket(resource_name).keys:
            raise BucketNotEmpty(resource_name)
        backend.delete_bucket(resource_name)

    original_delete_stack = CloudFormationBackend.delete_stack

    def forget_outputs_of_what_is_gone(stack: Any) -> None:
        gone = set(stack.template_dict.get("Resources", {})) - set(
            stack.resource_map._resource_json_map
        )
        outputs = stack.output_map._output_json_map or {}
        stack.output_map._output_json_map = {
            k: v for k, v in outputs.items() if not set(references(v)) & gone
        }
        stack.output_map._parsed_outputs = {}

    def delete_stack(self: Any, name_or_stack_id: str) -> None:
        stack = next(
            (s for s in self.stacks.values() if name_or_stack_id in {s.stack_id, s.name}), None
        )
        try:
            original_delete_stack(self, name_or_stack_id)
        except Exception as exc:
            if stack is None:
                raise
            reason = str(exc) if isinstance(exc, StackDeletionFailed) else repr(exc)
            self.deleted_stacks.pop(stack.stack_id, None)
            self.stacks[stack.stack_id] = stack
            stack.status = "DELETE_FAILED"
            stack.stack_status_reason = reason
            stack._add_stack_event("DELETE_FAILED", resource_status_reason=reason)
        finally:
            if stack is not None:
                forget_outputs_of_what_is_gone(stack)

    ResourceMap.delete = _delete_resources  # type: ignore[method-assign,assignment]
    FakeBucket.delete_from_cloudformation_json = classmethod(delete_bucket)  # type: ignore[method-assign,assignment]
    CloudFormationBackend.delete_stack = delete_stack  # type: ignore[method-assign]


def execute_change_sets_as_cloudformation_does() -> None:
    """A stack created or updated through a change set (what `cdk deploy` does) has the
    outputs of its template and publishes its exports, as one made by CreateStack does
    (moto kept the outputs of the empty template the change set was reviewed with,
    registered no export and resolved ``Fn::ImportValue`` against no exports at all), and a
    change set is found by name within its stack (the
    CDK CLI names every stack's ``cdk-deploy-change-set``). A failure while executing (a
    custom resource's provider answered FAILED, say) leaves the stack rolled back
    (``ROLLBACK_COMPLETE`` / ``UPDATE_ROLLBACK_COMPLETE``) with the reason in its events, as
    CloudFormation reports it, instead of answering ExecuteChangeSet with an error and
    leaving the stack in progress forever (moto rolls nothing back: resources created
    before the failure stay until the stack is deleted)."""
    from moto.cloudformation.exceptions import ValidationError  # noqa: PLC0415
    from moto.cloudformation.models import CloudFormationBackend  # noqa: PLC0415

    original = CloudFormationBackend.execute_change_set

    def find(self: Any, change_set_name: str, stack_name: str | None) -> Any:
        if change_set_name in self.change_sets:
            return self.change_sets[change_set_name]
        for change_set in reversed(list(self.change_sets.values())):
            if change_set.change_set_name == change_set_name and (
                stack_name in (None, change_set.stack_name, change_set.stack_id)
            ):
                return change_set
        raise ValidationError(stack_name or change_set_name)

    def execute_change_set(self: Any, change_set_name: str, stack_name: str | None = None) -> None:
        change_set = find(self, change_set_name, stack_name)
        stack = self.stacks[change_set.stack_id]
        # the region's exports, for Fn::ImportValue (moto gave a change set's stack none)
        stack.cross_stack_resources = stack.resource_map.cross_stack_resources = self.exports
        try:
            original(self, change_set.change_set_id, stack_name)
        except Exception as exc:
            reason = str(getattr(exc, "message", None) or exc)
            failed = "CREATE_FAILED" if change_set.change_set_type == "CREATE" else "UPDATE_FAILED"
            stack._add_stack_event(failed, resource_status_reason=reason)
            stack.status = (
                "ROLLBACK_COMPLETE"
                if change_set.change_set_type == "CREATE"
                else "UPDATE_ROLLBACK_COMPLETE"
            )
            stack._add_stack_event(stack.status, resource_status_reason=reason)
            stack.stack_status_reason = reason
            change_set.execution_status = "EXECUTE_FAILED"
            return
        stack._parse_template()  # moto keeps the outputs of the (empty) review template
        stack.description = stack.template_dict.get("Description")
        stack.output_map = stack._create_output_map()
        for name in [n for n, e in self.exports.items() if e.exporting_stack_id == stack.stack_id]:
            del self.exports[name]
        self._validate_export_uniqueness(stack)
        for export in stack.exports:
            self.exports[export.name] = export

    CloudFormationBackend.execute_change_set = execute_change_set  # type: ignore[method-assign]


def report_list_parameters_as_given() -> None:
    """A ``CommaDelimitedList`` / ``List<...>`` parameter is reported as the text it was
    given (``""``, ``"a,b"``), as CloudFormation does; moto printed its Python list
    (``['']``), which `cdk bootstrap` then read back as a trusted account named ``['']``."""
    from moto.cloudformation.models import Stack  # noqa: PLC0415

    def parameter_list(self: Any) -> list[dict[str, Any]]:
        hidden = self.resource_map.no_echo_parameter_keys
        return [
            {
                "ParameterKey": key,
                "ParameterValue": "****"
                if key in hidden
                else ",".join(map(str, value))
                if isinstance(value, list)
                else value,
            }
            for key, value in self.resource_map.resolved_parameters.items()
        ]

    Stack.parameter_list = property(parameter_list)  # type: ignore[assignment,method-assign]


def create_kms_keys_with_cloudformation_tags() -> None:
    """``AWS::KMS::Key`` with ``Tags`` (CloudFormation's ``Key``/``Value``): moto's
    CloudFormation passes them to its KMS API, which reads ``TagKey``/``TagValue``, and
    crashes the stack (``'TagKey'``)."""
    from moto.kms.models import Key  # noqa: PLC0415

    original = Key.create_from_cloudformation_json.__func__  # type: ignore[attr-defined]

    def create(
        cls: Any,
        /,
        resource_name: str,
        cloudformation_json: Any,
        account_id: str,
        region_name: str,
        **kwargs: Any,
    ) -> Any:
        properties = dict(cloudformation_json.get("Properties") or {})
        properties["Tags"] = [
            {"TagKey": t.get("Key", t.get("TagKey")), "TagValue": t.get("Value", t.get("TagValue"))}
            for t in properties.get("Tags") or []
        ]
        adapted = {**cloudformation_json, "Properties": properties}
        return original(cls, resource_name, adapted, account_id, region_name, **kwargs)

    Key.create_from_cloudformation_json = classmethod(create)  # type: ignore[method-assign,assignment]


STAND_IN_PREFIX = "local-cloud-stand-in"  # physical ids of resources moto cannot create


def stand_in_for_types_moto_lacks() -> None:
    """A resource of a type moto's CloudFormation does not implement (CloudWatch alarms,
    bucket and queue policies, CloudFront, ...) gets a stand-in: nothing is created, but
    the stack is (moto skipped the resource and then failed the stack on the first ``Ref``
    or ``Fn::GetAtt`` to it, a dashboard reading its alarms, say). ``Ref`` gives a physical
    id starting ``local-cloud-stand-in``, ``Fn::GetAtt`` of ``Arn`` an ARN of the type's
    service, any other attribute ``<physical id>.<attribute>``; DescribeStackResources lists
    it with that id, so whoever deployed can tell (the runner reports each one)."""
    from moto.cloudformation import parsing  # noqa: PLC0415
    from moto.core.common_models import CloudFormationModel  # noqa: PLC0415

    class StandIn(CloudFormationModel):
        def __init__(self, name: str, kind: str, account_id: str, region_name: str) -> None:
            self.name = name
            self.kind = kind
            self.account_id = account_id
            self.region_name = region_name

        @property
        def physical_resource_id(self) -> str:
            return self.name

        @staticmethod
        def cloudformation_name_type() -> str:
            return ""

        @staticmethod
        def cloudformation_type() -> str:
            return "AWS::LocalCloud::StandIn"

        @classmethod
        def has_cfn_attr(cls, attr: str) -> bool:
            return True

        def is_created(self) -> bool:
            return True

        def get_cfn_attribute(self, attribute_name: str) -> str:
            if attribute_name == "Arn":
                _, service, kind = [*self.kind.lower().split("::"), "", ""][:3]
                return f"arn:aws:{service}:{self.region_name}:{self.account_id}:{kind}/{self.name}"
            return f"{self.name}.{attribute_name}"

        @classmethod
        def create_from_cloudformation_json(
            cls,
            resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
            **kwargs: Any,
        ) -> Any:
            name = f"{STAND_IN_PREFIX}-{kwargs['LogicalId']}-{uuid.uuid4().hex[:8]}"
            return cls(name, str(kwargs["ResourceType"]), account_id, region_name)

        @classmethod
        def update_from_cloudformation_json(
            cls,
            original_resource: Any,
            new_resource_name: str,
            cloudformation_json: Any,
            account_id: str,
            region_name: str,
        ) -> Any:
            return original_resource

        @classmethod
        def delete_from_cloudformation_json(
            cls, resource_name: str, cloudformation_json: Any, account_id: str, region_name: str
        ) -> None:
            return None

        def delete(self, account_id: str, region_name: str) -> None:
            return None

    original = parsing.resource_class_from_type

    def resource_class_from_type(resource_type: str) -> Any:
        if resource_type in parsing.NULL_MODELS:
            return StandIn
        found = original(resource_type)
        return StandIn if found is None else found

    parsing.resource_class_from_type = resource_class_from_type


def _gone_already(exc: Exception) -> bool:
    text = f"{type(exc).__name__} {exc}"
    return "NotFound" in text or "does not exist" in text or "InvalidAssociationID" in text


def delete_what_moto_never_deletes() -> None:
    """Resource types moto's CloudFormation creates but never deletes with their stack
    (it skips them silently: they stay in the emulation, and a VPC whose route tables
    stay cannot go): route tables, routes, subnet associations, internet gateways and
    their attachments, VPC endpoints, flow logs, load balancer listeners, rules and target
    groups are deleted through their service's backend. What is gone already counts as
    deleted."""
    from moto.ec2.models import ec2_backends  # noqa: PLC0415
    from moto.ec2.models.flow_logs import FlowLogs  # noqa: PLC0415
    from moto.ec2.models.internet_gateways import InternetGateway  # noqa: PLC0415
    from moto.ec2.models.route_tables import Route, RouteTable  # noqa: PLC0415
    from moto.ec2.models.subnets import SubnetRouteTableAssociation  # noqa: PLC0415
    from moto.ec2.models.vpcs import VPCEndPoint  # noqa: PLC0415
    from moto.ec2.models.vpn_gateway import VPCGatewayAttachment  # noqa: PLC0415
    from moto.elbv2.models import (  # noqa: PLC0415
        FakeListener,
        FakeListenerRule,
        FakeTargetGroup,
        elbv2_backends,
    )

    def disassociate(ec2: Any, resource: Any) -> None:
        table = ec2.get_route_table(resource.route_table_id)
        for association, subnet in list(table._associations.items()):
            if subnet == resource.subnet_id:
                ec2.disassociate_route_table(association)

    def detach(ec2: Any, resource: Any) -> None:
        if str(resource.gateway_id).startswith("igw-"):
            ec2.detach_internet_gateway(resource.gateway_id, resource.vpc_id)
        else:
            ec2.detach_vpn_gateway(resource.gateway_id, resource.vpc_id)

    ec2_deleters: dict[type, Callable[[Any, Any], Any]] = {
        RouteTable: lambda ec2, r: ec2.delete_route_table(r.id),
        Route: lambda ec2, r: ec2.delete_route(r.route_table.id, r.destination_cidr_block),
        SubnetRouteTableAssociation: disassociate,
        VPCGatewayAttachment: detach,
        InternetGateway: lambda ec2, r: ec2.delete_internet_gateway(r.id),
        VPCEndPoint: lambda ec2, r: ec2.delete_vpc_endpoints([r.id]),
        FlowLogs: lambda ec2, r: ec2.delete_flow_logs([r.id]),
    }
    elbv2_deleters: dict[type, Callable[[Any, Any], Any]] = {
        FakeListenerRule: lambda elbv2, r: elbv2.delete_rule(r.arn),
        FakeListener: lambda elbv2, r: elbv2.delete_listener(r.arn),
        FakeTargetGroup: lambda elbv2, r: elbv2.delete_target_group(r.arn),
    }

    def install(kind: type, backends: Any, deleter: Callable[[Any, Any], Any]) -> None:
        def delete(self: Any, account_id: str, region_name: str) -> None:
            try:
                deleter(backends[account_id][region_name], self)
            except Exception as exc:
                if not _gone_already(exc):
                    raise

        kind.delete = delete  # type: ignore[attr-defined]

    for kind, deleter in ec2_deleters.items():
        install(kind, ec2_backends, deleter)
    for kind, deleter in elbv2_deleters.items():
        install(kind, elbv2_backends, deleter)


def apply_moto_patches(hook_url: str | None = None) -> None:
    disable_moto_sqs_delivery()
    stream_dynamodb_changes_without_delivering_them()
    make_dynamodb_writes_atomic()
    create_ingress_from_prefix_lists()
    create_kms_keys_with_cloudformation_tags()
    print_cloudformation_crashes()
    name_lambda_versions_by_arn()
    speed_up_moto_sqs_clock()
    apply_visibility_timeout_at_delivery()
    read_templates_from_this_emulation()
    stand_in_for_types_moto_lacks()
    execute_change_sets_as_cloudformation_does()
    delete_stacks_as_cloudformation_does()
    delete_what_moto_never_deletes()
    report_list_parameters_as_given()
    route_requests_without_rescanning_moto()
    tokenize_dynamodb_expressions_once()
    find_response_methods_directly()
    if hook_url:
        from local_cloud.services import custom_resources  # noqa: PLC0415 - imports this module

        route_lambda_invocations(hook_url)
        custom_resources.create_generic_custom_resources()
        custom_resources.run_custom_resources(hook_url)
        deliver_rule_targets_to_lambda(hook_url)
        deliver_sns_as_aws_does(hook_url)
        route_ecs_tasks(hook_url)
    send_s3_events_as_aws_does()
    match_arrays_of_objects_in_event_patterns()
