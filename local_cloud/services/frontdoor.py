"""The front door's HTTP server: a threaded server that hands each request to alb.handle."""

from __future__ import annotations

import logging
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from local_cloud.services.alb import (
    MAX_LAMBDA_REQUEST_BODY,
    REASONS,
    Invoker,
    Listener,
    Request,
    error_page,
    handle,
)
from local_cloud.services.environments import new_trace_id
from local_cloud.services.loopback import LoopbackServer

log = logging.getLogger("local_cloud")


def _trace_id(incoming: str | None) -> str:
    # ALB keeps the Root of an incoming X-Amzn-Trace-Id and adds one when there is none
    if incoming and "Root=" in incoming:
        return incoming
    return new_trace_id()


class FrontDoor(LoopbackServer):
    """Serves one listener on host:port (port 0 picks a free port) until stop()."""

    def __init__(
        self, listener: Listener, invoke: Invoker, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.listener = listener
        super().__init__(_make_handler(listener, invoke), host, port, "front-door")


def _make_handler(listener: Listener, invoke: Invoker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "awselb/2.0"
        sys_version = ""

        def log_message(self, format: str, *args: Any) -> None:
            pass  # one line per request is written below instead

        def _read_body(self) -> bytes | None:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                chunks: list[bytes] = []
                total = 0
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    total += size
                    if total > MAX_LAMBDA_REQUEST_BODY:
                        return None
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_LAMBDA_REQUEST_BODY:
                return None
            return self.rfile.read(length) if length else b""

        def _serve(self) -> None:
            started = time.monotonic()
            parts = urlsplit(self.path)
            body = self._read_body()
            request = Request(
                method=self.command,
                path=parts.path or "/",
                query=parts.query,
                headers=list(self.headers.items()),
                body=body if body is not None else b"",
                client_ip=self.client_address[0],
                port=listener.port,
            )
            trace_id = _trace_id(request.header("x-amzn-trace-id"))
            if body is None:
                response, handled_by = error_page(413), "body over 1 MB"
                self.close_connection = True
            else:
                try:
                    response, handled_by = handle(listener, request, invoke, trace_id)
                except Exception as exc:  # a bug here must not kill the server thread
                    log.exception("front door failed")
                    response, handled_by = error_page(500), f"front door error: {exc}"
            self._write(response)
            elapsed = (time.monotonic() - started) * 1000
            log.info(
                "http  %s %s -> %d %s (%.0f ms)",
                self.command,
                self.path,
                response.status,
                handled_by,
                elapsed,
            )

        def _write(self, response: Any) -> None:
            reason = response.reason or REASONS.get(response.status, "")
            self.send_response_only(response.status, reason)
            sent = {k.lower() for k, _ in response.headers}
            for key, value in response.headers:
                if key.lower() not in {"content-length", "transfer-encoding", "connection"}:
                    self.send_header(key, value)
            if "date" not in sent:
                self.send_header("Date", self.date_time_string())
            self.send_header("Server", self.server_version)
            self.send_header("Content-Length", str(len(response.body)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _serve

    return Handler
