"""The edge front door: plays a CloudFront distribution of the assembly before the ALB.

moto's CloudFormation cannot create distributions (nor VPC origins, response headers
policies...), so the distribution is read from the assembly's template: its cache
behaviors (path patterns, in order, then the default), their Lambda@Edge
viewer-request / viewer-response functions (``IncludeBody`` honoured) and response headers
policy. Expressions are resolved in the emulation (moto's CloudFormation evaluates them in
the deployed stack); a function version that another stack publishes through CDK's
cross-region SSM reader is read from that parameter.

Each request gets CloudFront's Lambda@Edge event (``Records[0].cf.config`` and
``cf.request``: clientIp, method, uri, querystring, headers as lowercase keys of
``[{key, value}]`` lists, body when the association includes it). A response the function
generates is answered as is (CloudFront runs no viewer-response step for it); a request
it returns (possibly changed) goes to the origin (the local ALB front door) and its answer
gets the viewer-response function and the response headers policy's headers.
"""

from __future__ import annotations

import base64
import http.client
import logging
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from local_cloud.aws import client
from local_cloud.deploy.assembly import Assembly
from local_cloud.services.environments import InvokeResult
from local_cloud.services.evaluate import EvaluationError, evaluate
from local_cloud.services.loopback import LoopbackServer

log = logging.getLogger("local_cloud")

DISTRIBUTION_TYPE = "AWS::CloudFront::Distribution"
VERSION_TYPE = "AWS::Lambda::Version"
HEADERS_POLICY_TYPE = "AWS::CloudFront::ResponseHeadersPolicy"
PARAMETER_READER_TYPE = "Custom::CrossRegionStringParameterReader"  # CDK's EdgeFunction
VIEWER_BODY_LIMIT = 40 * 1024  # Lambda@Edge viewer request: body truncated at 40 KB
NOT_EMULATED = (
    "edge not emulated: caching, HTTPS/TLS (served over HTTP), custom domains, geo "
    "restriction, WAF, origin failover, signed URLs, CloudFront Functions, origin events"
)
# Headers CloudFront adds toward the origin / that the origin hop sets itself
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}

Invoke = Callable[[str, dict[str, Any]], InvokeResult]


@dataclass(frozen=True)
class HeadersPolicy:
    """The headers a response headers policy sets: (name, value, override)."""

    headers: tuple[tuple[str, str, bool], ...] = ()
    remove: tuple[str, ...] = ()

    def apply(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        drop = {r.lower() for r in self.remove}
        out = [(k, v) for k, v in headers if k.lower() not in drop]
        for name, value, override in self.headers:
            present = any(k.lower() == name.lower() for k, _ in out)
            if present and not override:
                continue
            out = [(k, v) for k, v in out if k.lower() != name.lower()] + [(name, value)]
        return out


def headers_policy(config: dict[str, Any]) -> HeadersPolicy:
    """A ResponseHeadersPolicyConfig as the headers it sets."""
    found: list[tuple[str, str, bool]] = []
    security = config.get("SecurityHeadersConfig") or {}
    hsts = security.get("StrictTransportSecurity")
    if hsts:
        value = f"max-age={int(hsts['AccessControlMaxAgeSec'])}"
        value += "; includeSubDomains" if hsts.get("IncludeSubdomains") else ""
        value += "; preload" if hsts.get("Preload") else ""
        found.append(("Strict-Transport-Security", value, bool(hsts.get("Override"))))
    if security.get("ContentTypeOptions"):
        override = bool(security["ContentTypeOptions"].get("Override"))
        found.append(("X-Content-Type-Options", "nosniff", override))
    frame = security.get("FrameOptions")
    if frame:
        found.append(("X-Frame-Options", str(frame["FrameOption"]), bool(frame.get("Override"))))
    referrer = security.get("ReferrerPolicy")
    if referrer:
        override = bool(referrer.get("Override"))
        found.append(("Referrer-Policy", str(referrer["ReferrerPolicy"]), override))
    csp = security.get("ContentSecurityPolicy")
    if csp:
        override = bool(csp.get("Override"))
        found.append(("Content-Security-Policy", str(csp["ContentSecurityPolicy"]), override))
    xss = security.get("XSSProtection")
    if xss:
        value = "1" if xss.get("Protection") else "0"
        value += "; mode=block" if xss.get("ModeBlock") else ""
        value += f"; report={xss['ReportUri']}" if xss.get("ReportUri") else ""
        found.append(("X-XSS-Protection", value, bool(xss.get("Override"))))
    for item in (config.get("CustomHeadersConfig") or {}).get("Items") or []:
        found.append((str(item["Header"]), str(item["Value"]), bool(item.get("Override"))))
    removed = tuple(
        str(item["Header"]) for item in (config.get("RemoveHeadersConfig") or {}).get("Items") or []
    )
    return HeadersPolicy(tuple(found), removed)


@dataclass(frozen=True)
class Behavior:
    path_pattern: str  # "*" for the default behavior
    viewer_request: str | None = None  # function ARN
    viewer_response: str | None = None
    include_body: bool = False
    policy: HeadersPolicy = field(default_factory=HeadersPolicy)
    allowed_methods: tuple[str, ...] = ("GET", "HEAD")

    def matches(self, path: str) -> bool:
        pattern = (
            self.path_pattern if self.path_pattern.startswith("/") else "/" + self.path_pattern
        )
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
        return self.path_pattern == "*" or re.fullmatch(regex, path) is not None


@dataclass
class Distribution:
    stack: str
    logical_id: str
    distribution_id: str
    behaviors: list[Behavior]  # path patterns in order, the default last
    origin: str  # what the default behavior's origin is, for the banner
    differences: list[str] = field(default_factory=list)

    @property
    def domain(self) -> str:
        return f"{self.distribution_id.lower()}.cloudfront.net"

    def behavior(self, path: str) -> Behavior:
        return next(b for b in self.behaviors if b.matches(path))


# --------------------------------------------------------------------------------------
# Reading the distribution from the assembly
# --------------------------------------------------------------------------------------
class _Resolver:
    """Resolves a template expression of one stack, through the emulation."""

    def __init__(self, assembly: Assembly, aws_url: str, region: str) -> None:
        self.assembly = assembly
        self.aws_url = aws_url
        self.region = region

    def value(self, stack: str, expression: Any) -> Any:
        if isinstance(expression, str):
            return expression
        resources = self.assembly.stack(stack).template.get("Resources", {})
        target = None
        if isinstance(expression, dict) and "Ref" in expression:
            target = expression["Ref"]
        elif isinstance(expression, dict) and "Fn::GetAtt" in expression:
            target = expression["Fn::GetAtt"][0]
        resource = resources.get(target) if isinstance(target, str) else None
        if resource is not None and resource.get("Type") == PARAMETER_READER_TYPE:
            return self._parameter(resource)
        if resource is not None and resource.get("Type") == VERSION_TYPE:
            # a published version runs the function's code: the function is what runs here
            return self.value(stack, resource["Properties"]["FunctionName"])
        try:
            return evaluate(self.aws_url, stack, self.region, expression)
        except (EvaluationError, OSError):
            return None

    def _parameter(self, reader: dict[str, Any]) -> str | None:
        """What CDK's cross-region SSM reader would read (its provider is Node.js)."""
        props = reader.get("Properties", {})
        name = props.get("ParameterName")
        for region in (props.get("Region"), self.region):
            if not name or not region:
                continue
            try:
                answer = client("ssm", self.aws_url, str(region)).get_parameter(Name=name)
                return str(answer["Parameter"]["Value"])
            except (ClientError, BotoCoreError):
                continue
        return None


def _function_arn(value: Any, aws_url: str, region: str) -> str | None:
    """A function ARN (qualifier dropped), from an ARN, a version ARN or a name."""
    if not isinstance(value, str) or not value:
        return None
    if ":function:" in value:
        return ":".join(value.split(":")[:7])
    try:
        config = client("lambda", aws_url, region).get_function_configuration(FunctionName=value)
    except (ClientError, BotoCoreError):
        return None
    return str(config["FunctionArn"])


def _behavior(
    stack: str, raw: dict[str, Any], resolver: _Resolver, problems: list[str]
) -> Behavior:
    functions: dict[str, str | None] = {"viewer-request": None, "viewer-response": None}
    include_body = False
    for association in raw.get("LambdaFunctionAssociations") or []:
        kind = str(association.get("EventType"))
        arn = _function_arn(
            resolver.value(stack, association.get("LambdaFunctionARN")),
            resolver.aws_url,
            resolver.region,
        )
        if kind not in functions:
            problems.append(f"{kind} function not run (origin events are not emulated)")
            continue
        if arn is None:
            problems.append(f"{kind} function of {raw.get('PathPattern', 'default')} not found")
            continue
        functions[kind] = arn
        if kind == "viewer-request":
            include_body = bool(association.get("IncludeBody"))
    policy = HeadersPolicy()
    policy_ref = raw.get("ResponseHeadersPolicyId")
    resources = resolver.assembly.stack(stack).template.get("Resources", {})
    target = policy_ref.get("Ref") if isinstance(policy_ref, dict) else None
    if isinstance(target, str) and resources.get(target, {}).get("Type") == HEADERS_POLICY_TYPE:
        policy = headers_policy(resources[target]["Properties"]["ResponseHeadersPolicyConfig"])
    elif policy_ref:
        problems.append(f"response headers policy {policy_ref} is a managed one: not applied")
    methods = tuple(str(m) for m in raw.get("AllowedMethods") or ("GET", "HEAD"))
    return Behavior(
        path_pattern=str(raw.get("PathPattern", "*")),
        viewer_request=functions["viewer-request"],
        viewer_response=functions["viewer-response"],
        include_body=include_body,
        policy=policy,
        allowed_methods=methods,
    )


def load_distributions(assembly: Assembly, aws_url: str, region: str) -> list[Distribution]:
    """Every CloudFront distribution of the assembly, as the edge door plays it."""
    resolver = _Resolver(assembly, aws_url, region)
    found = []
    for stack in assembly.stacks:
        for logical_id, resource in stack.template.get("Resources", {}).items():
            if resource.get("Type") != DISTRIBUTION_TYPE:
                continue
            config = resource.get("Properties", {}).get("DistributionConfig", {})
            problems: list[str] = []
            behaviors = [
                _behavior(stack.stack_name, raw, resolver, problems)
                for raw in config.get("CacheBehaviors") or []
            ]
            default = dict(config.get("DefaultCacheBehavior") or {}, PathPattern="*")
            behaviors.append(_behavior(stack.stack_name, default, resolver, problems))
            origins = {o.get("Id"): o for o in config.get("Origins") or []}
            origin = origins.get(default.get("TargetOriginId"), {})
            kind = "VPC origin" if "VpcOriginConfig" in origin else "custom origin"
            digest = uuid.uuid5(uuid.NAMESPACE_URL, f"{stack.stack_name}/{logical_id}").hex
            found.append(
                Distribution(
                    stack=stack.stack_name,
                    logical_id=logical_id,
                    distribution_id="E" + digest[:13].upper(),
                    behaviors=behaviors,
                    origin=kind,
                    differences=problems,
                )
            )
    return found


# --------------------------------------------------------------------------------------
# One request through the edge
# --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EdgeResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    handled_by: str


def cf_headers(headers: list[tuple[str, str]]) -> dict[str, list[dict[str, str]]]:
    """HTTP headers in CloudFront's form: lowercase keys of [{key, value}] lists."""
    out: dict[str, list[dict[str, str]]] = {}
    for key, value in headers:
        out.setdefault(key.lower(), []).append({"key": key, "value": value})
    return out


def plain_headers(headers: Any) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, entries in (headers or {}).items():
        for entry in entries if isinstance(entries, list) else []:
            out.append((str(entry.get("key") or name), str(entry.get("value", ""))))
    return out


def viewer_request_event(
    distribution: Distribution,
    request: dict[str, Any],
    include_body: bool,
    body: bytes,
) -> dict[str, Any]:
    cf_request = dict(request)
    if include_body:
        truncated = len(body) > VIEWER_BODY_LIMIT
        cf_request["body"] = {
            "inputTruncated": truncated,
            "action": "read-only",
            "encoding": "base64",
            "data": base64.b64encode(body[:VIEWER_BODY_LIMIT]).decode(),
        }
    return {
        "Records": [
            {
                "cf": {
                    "config": {
                        "distributionDomainName": distribution.domain,
                        "distributionId": distribution.distribution_id,
                        "eventType": "viewer-request",
                        "requestId": base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode()[:56],
                    },
                    "request": cf_request,
                }
            }
        ]
    }


def _generated(answer: dict[str, Any]) -> EdgeResponse:
    status = int(answer["status"])
    body = answer.get("body") or ""
    data = base64.b64decode(body) if answer.get("bodyEncoding") == "base64" else str(body).encode()
    return EdgeResponse(status, plain_headers(answer.get("headers")), data, "")


def _error(status: int, why: str) -> EdgeResponse:
    reason = {502: "Bad Gateway", 503: "Service Unavailable"}.get(status, "Error")
    html = (
        f"<HTML><HEAD><TITLE>{status} ERROR</TITLE></HEAD><BODY><H1>{status} ERROR</H1>"
        f"<H2>{reason}</H2>The request could not be satisfied.</BODY></HTML>"
    ).encode()
    return EdgeResponse(
        status, [("Content-Type", "text/html"), ("X-Cache", "Error from cloudfront")], html, why
    )


class EdgeDoor(LoopbackServer):
    """Serves one distribution on host:port (0 picks one) in front of origin_url."""

    def __init__(
        self,
        distribution: Distribution,
        invoke: Invoke,
        origin_url: str | None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.distribution = distribution
        self._invoke = invoke
        self._origin = urlsplit(origin_url) if origin_url else None
        super().__init__(_make_handler(self), host, port, "edge-door")

    # -- the request path ----------------------------------------------------------------
    def handle(
        self,
        method: str,
        target: str,
        headers: list[tuple[str, str]],
        body: bytes,
        client_ip: str,
    ) -> EdgeResponse:
        parts = urlsplit(target)
        behavior = self.distribution.behavior(parts.path or "/")
        if method not in behavior.allowed_methods:
            return EdgeResponse(
                403, [("Content-Type", "text/html")], b"method not allowed", "AllowedMethods"
            )
        request: dict[str, Any] = {
            "clientIp": client_ip,
            "headers": cf_headers(headers),
            "method": method,
            "querystring": parts.query,
            "uri": parts.path or "/",
        }
        handled = []
        if behavior.viewer_request:
            event = viewer_request_event(self.distribution, request, behavior.include_body, body)
            result = self._invoke(behavior.viewer_request, event)
            name = behavior.viewer_request.rsplit(":", 1)[-1]
            if not result.ok:
                return _error(503, f"{name} failed: {result.error_summary}")
            answer = result.payload
            if not isinstance(answer, dict):
                return _error(502, f"{name}: not a request or a response")
            if "status" in answer:  # a response generated at the edge: no origin, no policy
                response = _generated(answer)
                return EdgeResponse(
                    response.status, response.headers, response.body, f"{name} answered"
                )
            request = answer
            handled.append(name)
            new_body = request.get("body")
            if isinstance(new_body, dict) and new_body.get("action") == "replace":
                data = str(new_body.get("data", ""))
                body = (
                    base64.b64decode(data)
                    if new_body.get("encoding") == "base64"
                    else data.encode()
                )
        status, response_headers, response_body = self._forward(request, body, client_ip)
        handled.append(f"origin {status}")
        if behavior.viewer_response:
            status, response_headers, response_body = self._viewer_response(
                behavior.viewer_response, request, status, response_headers, response_body
            )
        response_headers = behavior.policy.apply(response_headers)
        return EdgeResponse(status, response_headers, response_body, ", ".join(handled))

    def _forward(
        self, request: dict[str, Any], body: bytes, client_ip: str
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        if self._origin is None:
            return 502, [("Content-Type", "text/plain")], b"the origin is not emulated"
        headers = [
            (k, v)
            for k, v in plain_headers(request.get("headers"))
            if k.lower() not in _HOP_HEADERS
        ]
        forwarded = [v for k, v in headers if k.lower() == "x-forwarded-for"]
        headers = [(k, v) for k, v in headers if k.lower() != "x-forwarded-for"]
        headers += [
            ("X-Forwarded-For", f"{forwarded[-1]}, {client_ip}" if forwarded else client_ip),
            ("Via", f"1.1 {uuid.uuid4().hex[:32]}.cloudfront.net (CloudFront)"),
            ("X-Amz-Cf-Id", base64.urlsafe_b64encode(uuid.uuid4().bytes * 2).decode()[:56]),
        ]
        query = request.get("querystring") or ""
        path = str(request.get("uri") or "/") + (f"?{query}" if query else "")
        connection = http.client.HTTPConnection(
            self._origin.hostname or "127.0.0.1", self._origin.port or 80, timeout=60
        )
        try:
            connection.putrequest(
                str(request.get("method", "GET")), path, skip_accept_encoding=True
            )
            for key, value in headers:
                connection.putheader(key, value.encode("utf-8"))
            connection.putheader("Content-Length", str(len(body)))
            connection.endheaders(body)
            answer = connection.getresponse()
            return answer.status, list(answer.getheaders()), answer.read()
        except OSError as exc:
            return 502, [("Content-Type", "text/plain")], f"origin unreachable: {exc}".encode()
        finally:
            connection.close()

    def _viewer_response(
        self,
        function_arn: str,
        request: dict[str, Any],
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
    ) -> tuple[int, list[tuple[str, str]], bytes]:
        response = {"status": str(status), "statusDescription": "", "headers": cf_headers(headers)}
        event = {
            "Records": [
                {
                    "cf": {
                        "config": {
                            "distributionDomainName": self.distribution.domain,
                            "distributionId": self.distribution.distribution_id,
                            "eventType": "viewer-response",
                            "requestId": uuid.uuid4().hex,
                        },
                        "request": {k: v for k, v in request.items() if k != "body"},
                        "response": response,
                    }
                }
            ]
        }
        result = self._invoke(function_arn, event)
        if not result.ok or not isinstance(result.payload, dict):
            return 502, [("Content-Type", "text/plain")], b"viewer-response function failed"
        answer = result.payload
        return int(answer.get("status", status)), plain_headers(answer.get("headers")), body


def _make_handler(door: EdgeDoor) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "CloudFront"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _serve(self) -> None:
            started = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                response = door.handle(
                    self.command,
                    self.path,
                    list(self.headers.items()),
                    body,
                    self.client_address[0],
                )
            except Exception as exc:  # a bug here must not kill the server thread
                log.exception("edge door failed")
                response = _error(502, f"edge door error: {exc}")
            self.send_response_only(response.status)
            for key, value in response.headers:
                if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)
            log.info(
                "edge  %s %s -> %d %s (%.0f ms)",
                self.command,
                self.path,
                response.status,
                response.handled_by,
                (time.monotonic() - started) * 1000,
            )

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    return Handler
