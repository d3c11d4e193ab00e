"""The API as served by gunicorn (``python -m web``) on 127.0.0.1: schemathesis against the
served OpenAPI document, and the answers gunicorn gives before the app sees a request (issue 13:
the limits of the HTTP server and of the parameters must agree, errors are JSON)."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest

from search.params import MAX_FILTER_VALUES, MAX_QUERY_CHARS, MAX_VALUE_CHARS
from web.gunicorn_conf import LIMIT_REQUEST_LINE

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


def get(base: str, target: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", target, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def error_of(status: int, headers: dict, body: bytes) -> dict:
    assert headers["Content-Type"].startswith("application/json"), (status, body[:200])
    err = json.loads(body)["error"]
    assert set(err) == {"code", "message", "param"} and err["message"]
    return err


def test_schemathesis_finds_nothing_against_the_served_document(demo_server, tmp_path):
    """Every operation, from the served document: valid data answered (2xx; 404 for an unknown
    person; 414 for a request line past the server's limit), invalid data refused, every
    response as documented, no 5xx (tests/schemathesis.toml says which statuses are which)."""
    st = Path(sys.executable).with_name("st")
    run = subprocess.run(
        [str(st), "--no-color", "--config-file", str(ROOT / "tests" / "schemathesis.toml"), "run",
         f"{demo_server}/api/openapi.json", "--checks", "all", "--max-examples", "100",
         "--workers", "2", "--max-failures", "20"],
        capture_output=True, text=True, cwd=tmp_path, timeout=900, check=False)
    report = run.stdout[-6000:] + run.stderr[-2000:]
    assert run.returncode == 0, report
    assert "No issues found" in run.stdout, report


def test_a_full_length_query_in_any_script_fits_the_request_line(demo_server):
    """A q at its documented limit, in characters that take 4 bytes in UTF-8 (12 in the URL),
    with a person and a section at theirs, is answered; one character more is the app's 400
    naming q, not the HTTP server's 414."""
    longest = "\U0001F5DE" * MAX_QUERY_CHARS  # 🗞, 4 bytes in UTF-8
    params = {"q": longest, "person": "p" * MAX_VALUE_CHARS, "section": "s" * MAX_VALUE_CHARS,
              "from": "2020-01-01", "to": "2024-12-31", "sort": "newest"}
    target = "/api/search?" + urlencode(params, quote_via=quote)
    assert len(target) > 6000
    status, _, body = get(demo_server, target)
    assert status == 200, body[:300]
    status, headers, body = get(demo_server, "/api/search?" + urlencode(
        {**params, "q": longest + "\U0001F5DE"}, quote_via=quote))
    assert status == 400 and error_of(status, headers, body)["param"] == "q"


def test_a_request_line_past_the_limit_is_a_json_414(demo_server):
    target = "/api/search?" + urlencode(
        [("person", "\u4e2d" * MAX_VALUE_CHARS)] * MAX_FILTER_VALUES, quote_via=quote)
    assert len(target) > LIMIT_REQUEST_LINE
    status, headers, body = get(demo_server, target)
    assert status == 414
    err = error_of(status, headers, body)
    assert err["code"] == "request_too_long" and f"{LIMIT_REQUEST_LINE:,} bytes" in err["message"]
    assert headers["Cache-Control"] == "no-store"


def test_oversized_headers_are_a_json_431(demo_server):
    status, headers, body = get(demo_server, "/api/stats", {"X-Padding": "a" * 9000})
    assert status == 431 and error_of(status, headers, body)["code"] == "headers_too_large"


def test_a_malformed_request_is_a_json_400(demo_server):
    host, port = demo_server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /api/stats HTTP/1.1 extra\r\nHost: x\r\n\r\n")
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Content-Type: application/json" in head
    assert json.loads(body)["error"]["code"] == "bad_request"
