"""The emulation's kept connections (local_cloud/services/keepalive.py).

A werkzeug server with the handler the emulation uses runs in a process of its own (the
handler turns werkzeug's post-answer drain off for its whole process), in front of an app
that reads only the first three bytes of any body: what it leaves unread must not become
the next request on the same connection.
"""

from __future__ import annotations

import http.client
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

SERVER = textwrap.dedent(
    """
    from werkzeug.serving import WSGIRequestHandler, make_server

    from local_cloud.services.keepalive import keep_alive

    def app(environ, start_response):
        head = environ["wsgi.input"].read(3)
        body = b" ".join((environ["REQUEST_METHOD"].encode(), environ["PATH_INFO"].encode(), head))
        start_response("200 OK", [("Content-Length", str(len(body)))])
        return [body]

    handler = keep_alive(WSGIRequestHandler)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=handler)
    print(server.server_port, flush=True)
    server.serve_forever(poll_interval=0.1)
    """
)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = subprocess.Popen([sys.executable, "-c", SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield int(server.stdout.readline())
    finally:
        server.terminate()
        server.wait(10)


def _answer(connection: http.client.HTTPConnection) -> tuple[bytes, str | None]:
    response = connection.getresponse()
    return response.read(), response.getheader("Connection")


def test_one_connection_carries_many_requests_whatever_their_bodies(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/unread", body=b"abcdefgh" * 10_000)  # mostly unread
        assert _answer(connection) == (b"POST /unread abc", None)
        kept = connection.sock
        assert kept is not None

        connection.request("GET", "/next")
        assert _answer(connection) == (b"GET /next ", None)
        connection.request(
            "PUT", "/chunked", body=iter([b"xyz", b"123" * 5_000]), encode_chunked=True
        )
        assert _answer(connection) == (b"PUT /chunked xyz", None)
        connection.request("GET", "/last")
        assert _answer(connection) == (b"GET /last ", None)
        assert connection.sock is kept  # never reconnected: the server kept it open
    finally:
        connection.close()


def test_a_client_that_asks_to_close_gets_its_connection_closed(port: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", "/bye", headers={"Connection": "close"})
        assert _answer(connection)[0] == b"GET /bye "
        assert connection.sock is None  # http.client closed it, as the answer said
    finally:
        connection.close()
