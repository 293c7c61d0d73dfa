"""Kept connections for moto's server: the emulation's HTTP/1.1 keep-alive.

moto serves through werkzeug's development server, which answers every request with
``Connection: close``. So every AWS call of the runner, the tests and the functions
opened a new TCP connection, and the emulation started a new thread for each. Measured
side by side (2,000 consistent GetItem calls): 1.47 to 1.69 ms of the emulation's CPU per
call with a connection each, 1.22 ms on kept connections; the client's 0.86 to 0.92 ms
went to 0.82. The emulation is about half of what ``make test`` spends.

What werkzeug does not do for a kept connection, done here:

- the answer leaves without ``Connection: close``, and http.server's loop reads the next
  request from the same connection, unless the client asked to close or spoke HTTP/1.0
  (then the answer says so, and the connection closes);
- the request body is handed to the app as a stream limited to its ``Content-Length``
  (a chunked body is already one: werkzeug dechunks it) and whatever the app left unread
  is read after the answer, so the next request starts where it should;
- werkzeug's own drain after each answer reads the raw connection until the client has
  been quiet for 10 ms. On a kept connection that is the next request, so it is turned off
  in the emulation process (``werkzeug.serving.selectors``, used for nothing else there);
- small answers leave at once (``TCP_NODELAY``): headers and body are two writes, and
  Nagle's algorithm would hold the second until the client acknowledged the first.

Only the emulation process imports this; the runner's own servers are not werkzeug's.
"""

from __future__ import annotations

import selectors
from typing import Any

import werkzeug.serving
from werkzeug.serving import WSGIRequestHandler
from werkzeug.wsgi import LimitedStream

_READ = 1 << 16


class _NoDrain:
    """What werkzeug's post-answer drain gets instead of a selector: nothing to read."""

    def register(self, *_: object) -> None:
        pass

    def select(self, timeout: float | None = None) -> list[Any]:
        return []

    def close(self) -> None:
        pass


class _Selectors:
    DefaultSelector = _NoDrain
    EVENT_READ = selectors.EVENT_READ


def keep_alive(handler: type[WSGIRequestHandler]) -> type[WSGIRequestHandler]:
    """``handler`` (moto's) that keeps the connection open between requests."""
    werkzeug.serving.selectors = _Selectors  # type: ignore[attr-defined,assignment]

    class KeepAliveRequestHandler(handler):  # type: ignore[valid-type,misc]
        disable_nagle_algorithm = True

        def make_environ(self) -> Any:
            environ = super().make_environ()
            if not environ.get("wsgi.input_terminated"):  # not chunked: bound it ourselves
                length = int(environ.get("CONTENT_LENGTH") or 0)
                environ["wsgi.input"] = LimitedStream(environ["wsgi.input"], max(length, 0))
                environ["wsgi.input_terminated"] = True
            return environ

        def send_header(self, keyword: str, value: str) -> None:
            werkzeugs_close = keyword.lower() == "connection" and value.lower() == "close"
            if werkzeugs_close and not self.close_connection:
                return  # the connection stays open for the next request
            super().send_header(keyword, value)  # or it closes, as the client asked

        def run_wsgi(self) -> None:
            super().run_wsgi()
            stream = getattr(self, "environ", {}).get("wsgi.input")
            try:
                while stream is not None and stream.read(_READ):
                    pass  # what the app left unread of this request's body
            except Exception:  # a body that cannot be finished: end the connection
                self.close_connection = True

    return KeepAliveRequestHandler
