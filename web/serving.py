"""A gunicorn worker that answers gunicorn's own errors (request line or headers too long,
malformed HTTP) in the API's JSON error shape.

The settings, the limits included, are in ``web.gunicorn_conf``, shared by ``python -m web``
and by ``gunicorn -c python:web.gunicorn_conf``.
"""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.http import errors
from gunicorn.workers.ggevent import GeventWorker

from web.gunicorn_conf import LIMIT_REQUEST_FIELD_SIZE, LIMIT_REQUEST_FIELDS, LIMIT_REQUEST_LINE

# gunicorn's errors that are not a client's malformed request (some only in newer gunicorns)
_NOT_OURS = tuple(getattr(errors, name) for name in (
    "ConfigurationProblem", "UnsupportedTransferCoding", "ExpectationFailed",
    "InvalidResponseHeader", "InvalidResponseHeaderName") if hasattr(errors, name))


def client_error(exc: BaseException) -> tuple[int, str, str, str] | None:
    """(status, reason, code, message) for a request gunicorn refused before the app saw it;
    None for anything else (answered by gunicorn as usual)."""
    if isinstance(exc, errors.LimitRequestLine):
        return (414, "URI Too Long", "request_too_long",
                (f"the request line is longer than {LIMIT_REQUEST_LINE:,} bytes: shorten the "
                 "query string (q takes at most 500 characters; give fewer filter values)"))
    if isinstance(exc, errors.LimitRequestHeaders):
        return (431, "Request Header Fields Too Large", "headers_too_large",
                (f"a header is longer than {LIMIT_REQUEST_FIELD_SIZE:,} bytes, or there are "
                 f"more than {LIMIT_REQUEST_FIELDS} headers"))
    if isinstance(exc, errors.ParseException) and not isinstance(exc, _NOT_OURS):
        return (400, "Bad Request", "bad_request",
                f"the request could not be read as HTTP ({type(exc).__name__})")
    return None


def error_response(status: int, reason: str, code: str, message: str) -> bytes:
    """A whole HTTP response carrying ``{"error": {"code", "message", "param"}}``."""
    body = json.dumps({"error": {"code": code, "message": message, "param": None}}).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nCache-Control: no-store\r\n"
            f"X-Content-Type-Options: nosniff\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


class JsonErrorWorker(GeventWorker):
    """gunicorn's gevent worker (a slow client holds a greenlet, not the worker), answering
    the requests gunicorn itself refuses in JSON instead of HTML."""

    def handle_error(self, req, client, addr, exc):
        answer = client_error(exc)
        if answer is None:
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        try:
            util.write_nonblock(client, error_response(*answer))
        except OSError:  # the client is gone: nothing to answer
            self.log.debug("Failed to send error message.")
        return None
