"""The viewer-request decision: refuse at the edge, or pass the request on, stamped.

Order of checks: path (404), method (405), the bearer token when authentication is on
(401/403/503), then the body's type and declared size (415/413), so an anonymous caller
learns nothing about a body it may not send anyway.

Every request passed on carries a fresh ``x-request-id`` (the functions' correlation
id), ``x-viewer-ip`` (the address CloudFront saw the viewer connect from: the per-IP rate
limit of the ALB's web ACL counts by it) and, when authenticated, ``x-auth-subject``.
All are removed from what the viewer sent first, so a client can never choose them.
"""

import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING or __package__:  # tests: imported as lambdas.edge.viewer_request.gate
    from .auth import Authenticator
    from .cf_event import CfHeaders, remove_header, set_header
    from .edge_config import EdgeConfig
    from .jwks import JwksCache
    from .refusal import Refused
    from .surface import check_body, check_method, route_for
else:  # Lambda: the asset directory is on sys.path
    from auth import Authenticator
    from cf_event import CfHeaders, remove_header, set_header
    from edge_config import EdgeConfig
    from jwks import JwksCache
    from refusal import Refused
    from surface import check_body, check_method, route_for

REQUEST_ID_HEADER = "x-request-id"
SUBJECT_HEADER = "x-auth-subject"
VIEWER_IP_HEADER = "x-viewer-ip"
# Headers only the edge may set: whatever the viewer sent under these names is dropped.
EDGE_HEADERS = (REQUEST_ID_HEADER, SUBJECT_HEADER, VIEWER_IP_HEADER)


class ViewerRequestGate:
    def __init__(
        self,
        authenticator: Authenticator | None,
        new_request_id: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        self._authenticator = authenticator
        self._new_request_id = new_request_id

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """The request to forward (changed in place), or the response to answer with."""
        headers: CfHeaders = request.setdefault("headers", {})
        for name in EDGE_HEADERS:
            remove_header(headers, name)
        request_id = self._new_request_id()
        method = str(request.get("method", ""))
        try:
            route = route_for(str(request.get("uri", "")))
            check_method(route, method)
            subject = self._authenticator.subject(headers) if self._authenticator else None
            check_body(route, headers)
        except Refused as refusal:
            log(
                "request refused",
                status=int(refusal.status),
                code=refusal.code,
                method=method,
                uri=request.get("uri"),
                request_id=request_id,
            )
            return refusal.to_response(request_id=request_id, include_body=method != "HEAD")
        set_header(headers, REQUEST_ID_HEADER, request_id)
        client_ip = request.get("clientIp")
        if isinstance(client_ip, str) and client_ip:
            set_header(headers, VIEWER_IP_HEADER, client_ip)
        if subject is not None:
            set_header(headers, SUBJECT_HEADER, subject)
        return request


def build_gate(config: EdgeConfig) -> ViewerRequestGate:
    auth = config.auth
    if auth is None:
        return ViewerRequestGate(authenticator=None)
    keys = JwksCache(auth.jwks_url, ttl_seconds=auth.jwks_cache_seconds)
    return ViewerRequestGate(authenticator=Authenticator(auth, keys))


def log(message: str, **fields: Any) -> None:
    """One JSON line per event (Lambda@Edge logs go to CloudWatch in the serving region)."""
    print(json.dumps({"level": "INFO", "message": message, **fields}, default=str))
