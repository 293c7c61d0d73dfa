"""The front door: plays an Application Load Balancer listener with Lambda targets.

Routes come from the emulation (elbv2 DescribeListeners / DescribeRules /
DescribeTargetHealth), never from the app: rules are evaluated by priority, then the
listener's default action. Forwarding to a Lambda target group builds the event the way
ALB does and turns the function's answer back into HTTP.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from local_cloud.aws import client
from local_cloud.services.environments import InvokeResult

MAX_LAMBDA_REQUEST_BODY = 1024 * 1024  # ALB: 1 MB request body limit for Lambda targets
MAX_LAMBDA_RESPONSE = 1024 * 1024  # ALB: 1 MB response limit from Lambda targets
TEXT_CONTENT_TYPES = ("application/json", "application/javascript", "application/xml")
# ALB: "message header names conform to the regular expression [-A-Za-z0-9]+"
VALID_HEADER_NAME = re.compile(r"[-A-Za-z0-9]+")
DROP_INVALID_HEADERS_ATTRIBUTE = "routing.http.drop_invalid_header_fields.enabled"
REASONS = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 301: "Moved Permanently",
    302: "Found", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
    405: "Method Not Allowed", 409: "Conflict", 413: "Request Entity Too Large",
    415: "Unsupported Media Type", 418: "I'm a teapot", 422: "Unprocessable Entity",
    429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
    503: "Service Unavailable", 504: "Gateway Timeout",
}  # fmt: skip


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str  # the raw query string, without "?"
    # as received, in order; each byte of a value one character (latin-1), as HTTP servers
    # read them: build_event decodes them as UTF-8
    headers: Sequence[tuple[str, str]]
    body: bytes
    client_ip: str = "127.0.0.1"
    port: int = 80

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else None


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    reason: str = ""


@dataclass(frozen=True)
class Rule:
    priority: float  # the default rule sorts last
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]


@dataclass
class Listener:
    arn: str
    port: int
    protocol: str
    rules: list[Rule]
    # target group ARN -> (function ARN, multi-value headers enabled)
    targets: dict[str, tuple[str, bool]] = field(default_factory=dict)
    # the load balancer attribute routing.http.drop_invalid_header_fields.enabled
    drop_invalid_header_fields: bool = False

    def path_prefixes(self) -> list[str]:
        """Literal path patterns that forward to a function (for the banner's curl line)."""
        found: list[str] = []
        for rule in self.rules:
            if not any(a.get("Type") == "forward" for a in rule.actions):
                continue
            for cond in rule.conditions:
                if cond.get("Field") == "path-pattern":
                    found.extend(v for v in _condition_values(cond) if not set(v) & {"*", "?"})
        return found


def _wildcard(pattern: str, case_sensitive: bool = True) -> re.Pattern[str]:
    # ALB patterns know only "*" (any run of characters) and "?" (one character)
    text = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{text}$", 0 if case_sensitive else re.IGNORECASE)


def _condition_values(condition: dict[str, Any]) -> list[str]:
    field_name = condition.get("Field")
    config_key = {
        "path-pattern": "PathPatternConfig",
        "host-header": "HostHeaderConfig",
        "http-header": "HttpHeaderConfig",
        "http-request-method": "HttpRequestMethodConfig",
        "source-ip": "SourceIpConfig",
    }.get(str(field_name), "")
    values = condition.get(config_key, {}).get("Values") or condition.get("Values") or []
    return [str(v) for v in values]


def _query_pairs(query: str) -> list[tuple[str, str]]:
    pairs = []
    for part in query.split("&"):
        if part:
            key, _, value = part.partition("=")
            pairs.append((key, value))
    return pairs


def condition_matches(  # noqa: PLR0911 - one return per ALB condition field
    condition: dict[str, Any], request: Request
) -> bool:
    field_name = condition.get("Field")
    values = _condition_values(condition)
    if field_name == "path-pattern":
        return any(_wildcard(v).match(request.path) for v in values)
    if field_name == "http-request-method":
        return request.method in values
    if field_name == "host-header":
        host = (request.header("host") or "").rsplit(":", 1)[0]
        return any(_wildcard(v, case_sensitive=False).match(host) for v in values)
    if field_name == "http-header":
        name = condition.get("HttpHeaderConfig", {}).get("HttpHeaderName", "")
        received = [v for k, v in request.headers if k.lower() == str(name).lower()]
        return any(_wildcard(v, False).match(r) for v in values for r in received)
    if field_name == "query-string":
        pairs = _query_pairs(request.query)
        for wanted in condition.get("QueryStringConfig", {}).get("Values", []):
            for key, value in pairs:
                key_ok = "Key" not in wanted or _wildcard(wanted["Key"], False).match(key)
                if key_ok and _wildcard(wanted["Value"], False).match(value):
                    return True
        return False
    if field_name == "source-ip":
        address = ipaddress.ip_address(request.client_ip)
        return any(address in ipaddress.ip_network(v, strict=False) for v in values)
    return False


def match_rule(listener: Listener, request: Request) -> Rule:
    for rule in listener.rules:
        if all(condition_matches(c, request) for c in rule.conditions):
            return rule
    raise LookupError("listener has no default rule")


def _text_like(content_type: str | None) -> bool:
    if content_type is None:
        return False
    media = content_type.split(";")[0].strip().lower()
    return media.startswith("text/") or media in TEXT_CONTENT_TYPES


class BadLambdaRequest(Exception):
    """The request cannot be put in a Lambda event (ALB: LambdaBadRequest, a 502)."""


def _utf8(value: str) -> str:
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError as exc:  # not one byte per character, or not UTF-8
        raise BadLambdaRequest("a request header is not valid UTF-8") from exc


def _event_body(request: Request) -> tuple[str, bool]:
    """The body as ALB puts it in the event, and whether it is base64-encoded.

    Sent as text only when the content type is text and nothing encodes it: any
    Content-Encoding, or bytes that are not valid UTF-8, and the body goes base64-encoded,
    so the function always sees exactly the bytes the client sent.
    """
    if not request.body:
        return "", False
    if _text_like(request.header("content-type")) and request.header("content-encoding") is None:
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode(), True


def build_event(
    request: Request, target_group_arn: str, multi_value: bool, trace_id: str
) -> dict[str, Any]:
    """The event ALB sends a Lambda target (single- or multi-value headers mode).

    Raises BadLambdaRequest when a header value is not valid UTF-8.
    """
    headers: list[tuple[str, str]] = [
        (k.lower(), _utf8(v))
        for k, v in request.headers
        if k.lower()
        not in {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "x-amzn-trace-id"}
    ]
    forwarded_for = _utf8(request.header("x-forwarded-for") or "")
    headers += [
        ("x-amzn-trace-id", trace_id),
        (
            "x-forwarded-for",
            f"{forwarded_for}, {request.client_ip}" if forwarded_for else request.client_ip,
        ),
        ("x-forwarded-port", str(request.port)),
        ("x-forwarded-proto", "http"),
    ]
    body, base64_body = _event_body(request)
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": target_group_arn}},
        "httpMethod": request.method,
        "path": request.path,
        "body": body,
        "isBase64Encoded": base64_body,
    }
    # ALB passes query strings as received: it does not URL-decode them.
    pairs = _query_pairs(request.query)
    if multi_value:
        grouped_headers: dict[str, list[str]] = {}
        for k, v in headers:
            grouped_headers.setdefault(k, []).append(v)
        grouped_query: dict[str, list[str]] = {}
        for k, v in pairs:
            grouped_query.setdefault(k, []).append(v)
        event["multiValueQueryStringParameters"] = grouped_query
        event["multiValueHeaders"] = grouped_headers
    else:
        event["queryStringParameters"] = dict(pairs)  # last value wins, as on ALB
        event["headers"] = dict(headers)
    return event


class BadLambdaResponse(Exception):
    """The function answered something ALB cannot turn into HTTP (ALB says 502)."""


def response_from_lambda(payload: Any) -> Response:
    """Turn a Lambda target's answer into HTTP, or raise BadLambdaResponse."""
    if not isinstance(payload, dict) or "statusCode" not in payload:
        raise BadLambdaResponse("response has no statusCode")
    try:
        status = int(payload["statusCode"])
    except (TypeError, ValueError) as exc:
        raise BadLambdaResponse(f"bad statusCode {payload['statusCode']!r}") from exc
    headers: list[tuple[str, str]] = []
    if isinstance(payload.get("multiValueHeaders"), dict):
        for k, values in payload["multiValueHeaders"].items():
            headers.extend((str(k), str(v)) for v in values)
    elif isinstance(payload.get("headers"), dict):
        headers.extend((str(k), str(v)) for k, v in payload["headers"].items())
    raw_body = payload.get("body") or ""
    if not isinstance(raw_body, str):
        raise BadLambdaResponse("body must be a string")
    try:
        body = base64.b64decode(raw_body) if payload.get("isBase64Encoded") else raw_body.encode()
    except ValueError as exc:
        raise BadLambdaResponse("isBase64Encoded body is not base64") from exc
    if len(body) > MAX_LAMBDA_RESPONSE:
        raise BadLambdaResponse("response body exceeds 1 MB")
    reason = str(payload.get("statusDescription", "")).partition(" ")[2]
    return Response(status=status, headers=headers, body=body, reason=reason)


def error_page(status: int) -> Response:
    """ALB's own error pages are small HTML documents."""
    reason = REASONS.get(status, "Error")
    html = (
        f"<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {reason}</h1></center>\r\n</body>\r\n</html>\r\n"
    ).encode()
    return Response(status, [("Content-Type", "text/html")], html, reason)


def fixed_response(config: dict[str, Any]) -> Response:
    body = str(config.get("MessageBody", "")).encode()
    content_type = config.get("ContentType") or "text/plain"
    return Response(int(config["StatusCode"]), [("Content-Type", str(content_type))], body)


def redirect_response(config: dict[str, Any], request: Request) -> Response:
    host = (request.header("host") or "127.0.0.1").rsplit(":", 1)[0]
    values = {
        "protocol": "http",
        "host": host,
        "port": str(request.port),
        "path": request.path.lstrip("/"),
        "query": request.query,
    }

    def fill(text: str) -> str:
        return re.sub(r"#\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)

    protocol = fill(str(config.get("Protocol", "#{protocol}"))).lower()
    location = (
        f"{protocol}://{fill(str(config.get('Host', '#{host}')))}:"
        f"{fill(str(config.get('Port', '#{port}')))}/"
        f"{fill(str(config.get('Path', '/#{path}'))).lstrip('/')}"
    )
    query = fill(str(config.get("Query", "#{query}")))
    if query:
        location += f"?{query}"
    status = 301 if config.get("StatusCode") == "HTTP_301" else 302
    return Response(status, [("Location", location)], b"")


def load_listeners(aws_url: str, region: str) -> list[Listener]:
    """Every listener of every load balancer in the emulation, with rules and targets."""
    elbv2 = client("elbv2", aws_url, region)
    listeners: list[Listener] = []
    target_cache: dict[str, tuple[str, bool]] = {}
    for lb in elbv2.describe_load_balancers()["LoadBalancers"]:
        attributes = elbv2.describe_load_balancer_attributes(LoadBalancerArn=lb["LoadBalancerArn"])[
            "Attributes"
        ]
        drop_invalid = any(
            a["Key"] == DROP_INVALID_HEADERS_ATTRIBUTE and a["Value"] == "true" for a in attributes
        )
        for raw in elbv2.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]:
            rules = []
            for r in elbv2.describe_rules(ListenerArn=raw["ListenerArn"])["Rules"]:
                is_default = r.get("IsDefault") or r.get("Priority") == "default"
                priority = float("inf") if is_default else float(r["Priority"])
                rules.append(Rule(priority, r.get("Conditions", []), r.get("Actions", [])))
            if not any(r.priority == float("inf") for r in rules):
                rules.append(Rule(float("inf"), [], raw.get("DefaultActions", [])))
            rules.sort(key=lambda r: r.priority)
            listener = Listener(
                raw["ListenerArn"],
                int(raw["Port"]),
                raw["Protocol"],
                rules,
                drop_invalid_header_fields=drop_invalid,
            )
            for rule in rules:
                for tg_arn in _forward_targets(rule.actions):
                    if tg_arn not in target_cache:
                        target_cache[tg_arn] = _lambda_target(elbv2, tg_arn)
                    listener.targets[tg_arn] = target_cache[tg_arn]
            listeners.append(listener)
    return listeners


def _forward_targets(actions: list[dict[str, Any]]) -> list[str]:
    arns = []
    for action in actions:
        if action.get("Type") != "forward":
            continue
        if action.get("TargetGroupArn"):
            arns.append(str(action["TargetGroupArn"]))
        for group in action.get("ForwardConfig", {}).get("TargetGroups", []):
            arns.append(str(group["TargetGroupArn"]))
    return arns


def _lambda_target(elbv2: Any, tg_arn: str) -> tuple[str, bool]:
    health = elbv2.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]
    function_arn = health[0]["Target"]["Id"] if health else ""
    attributes = elbv2.describe_target_group_attributes(TargetGroupArn=tg_arn)["Attributes"]
    multi = any(
        a["Key"] == "lambda.multi_value_headers.enabled" and a["Value"] == "true"
        for a in attributes
    )
    return str(function_arn), multi


def choose_listener(listeners: list[Listener]) -> Listener | None:
    """The listener the front door plays: HTTP on port 80 if there is one."""
    if not listeners:
        return None
    return sorted(listeners, key=lambda lst: (lst.protocol != "HTTP", lst.port != 80, lst.port))[0]


Invoker = Callable[[str, dict[str, Any], str], InvokeResult]  # function ARN, event, trace id


def handle(  # noqa: PLR0911 - one return per ALB action outcome
    listener: Listener, request: Request, invoke: Invoker, trace_id: str
) -> tuple[Response, str]:
    """Answer one request; also return what handled it (for the log line)."""
    if len(request.body) > MAX_LAMBDA_REQUEST_BODY:
        return error_page(413), "body over 1 MB"
    if listener.drop_invalid_header_fields:
        kept = [(k, v) for k, v in request.headers if VALID_HEADER_NAME.fullmatch(k)]
        request = replace(request, headers=kept)
    rule = match_rule(listener, request)
    for action in rule.actions:
        kind = action.get("Type")
        if kind == "fixed-response":
            return fixed_response(action["FixedResponseConfig"]), "fixed-response"
        if kind == "redirect":
            return redirect_response(action["RedirectConfig"], request), "redirect"
        if kind == "forward":
            tg_arn = _forward_targets([action])[0]
            function_arn, multi = listener.targets.get(tg_arn, ("", False))
            if not function_arn:
                return error_page(503), "no registered target"
            name = function_arn.rsplit(":", 1)[-1]
            try:
                event = build_event(request, tg_arn, multi, trace_id)
            except BadLambdaRequest as exc:
                return error_page(502), f"{name} not invoked: LambdaBadRequest, {exc}"
            # Lambda refuses a payload over its quota (RequestEntityTooLarge): ALB says 502
            result = invoke(function_arn, event, trace_id)
            if not result.ok:
                return error_page(502), f"{name} failed: {result.error_summary}"
            try:
                return response_from_lambda(result.payload), name
            except BadLambdaResponse as exc:
                return error_page(502), f"{name}: {exc}"
    return error_page(503), "no supported action"
