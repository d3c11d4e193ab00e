"""Slow clients must not hold the workers: 50 connections trickling their request headers in,
one line a second, while normal searches keep their usual latency (issue 13). Everything on
127.0.0.1; the slow connections stop when the measurement ends."""

from __future__ import annotations

import socket
import statistics
import threading
import time
import urllib.request

import pytest

pytestmark = pytest.mark.slow

SLOW_CLIENTS = 50


def timed_searches(base: str, n: int) -> list[float]:
    out = []
    for i in range(n):
        started = time.perf_counter()
        with urllib.request.urlopen(f"{base}/api/search?q=harbour&page={1 + i % 3}",
                                    timeout=20) as resp:
            assert resp.status == 200
            resp.read()
        out.append((time.perf_counter() - started) * 1000)
    return out


def test_slow_clients_do_not_hold_the_workers(demo_server):
    host, port = demo_server.removeprefix("http://").split(":")
    baseline = timed_searches(demo_server, 20)
    stop = threading.Event()
    opened = []

    def trickle():
        try:
            with socket.create_connection((host, int(port)), timeout=30) as s:
                s.sendall(b"GET /api/search?q=harbour HTTP/1.1\r\nHost: x\r\n")
                opened.append(1)
                for _ in range(60):  # bounded: at most a minute, stopped after measuring
                    if stop.wait(1.0):
                        break
                    s.sendall(b"X-Slow: 1\r\n")
        except OSError:
            pass

    threads = [threading.Thread(target=trickle, daemon=True) for _ in range(SLOW_CLIENTS)]
    for t in threads:
        t.start()
    try:
        time.sleep(2.5)  # every slow client has sent its first lines, and is waiting
        assert len(opened) == SLOW_CLIENTS
        during = timed_searches(demo_server, 20)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=5)
    usual = statistics.median(baseline)
    assert statistics.median(during) <= 3 * usual + 25, (baseline, during)
    assert max(during) < 1000, during  # sync workers: every request waited 30 s or more
