"""Load test: wrk against the production server (gunicorn) on 127.0.0.1, bounded in time.

    python -m bench.load [--index DIR] [--seconds 15] [--connections 8] [--workers 2]
                         [--slow-clients N]

Without ``--index``, Reuters-21578 (../shared/data) is ingested into a temporary folder first.
The request mix cycles through search pages, JSON searches (words, phrases, prefixes, person /
section / date filters, browsing, paging) and article pages. Prints requests per second,
p50/p95/p99 latency and error counts (connection errors, timeouts, non-2xx answers).
Traffic goes to 127.0.0.1 only, and wrk stops after ``--seconds``. With ``--slow-clients N``,
N more connections send their request headers one line a second for the whole run (and stop
with it), as a slow or hostile client would.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"

QUERIES = [
    "/?q=oil", "/api/search?q=oil+prices", '/?q="interest+rates"', "/api/search?q=petro*",
    "/?q=dollar&section=money-fx", "/api/search?person=James+Baker", "/?q=profit&from=1987-03&to=1987-04",
    "/?", "/api/search?q=bank&page=3", "/?q=wheat&sort=newest", "/api/search?q=volker",
    "/?q=trade+deficit&person=Volcker", "/api/search?section=earn&year=1987", "/?q=coffee+OR+cocoa",
    "/api/search?q=yen+-dollar", "/?q=opec&per_page=20",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(index: Path, workers: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "web", "--port", str(port), "--index",
                             str(index), "--workers", str(workers)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            # a page that does not read the index: a large index's facet arrays are built on
            # the first search of each worker, not here
            urllib.request.urlopen(base + "/api/openapi.json", timeout=10).read()
            return proc, base
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                raise RuntimeError("the server did not start")
            time.sleep(0.2)


def article_paths(base: str, n: int = 16) -> list[str]:
    with urllib.request.urlopen(base + "/api/search?q=oil&per_page=%d" % n, timeout=30) as resp:
        hits = json.load(resp)["hits"]
    return [h["url"] for h in hits]


def run_wrk(base: str, paths: list[str], seconds: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as fh:
        fh.write("\n".join(paths) + "\n")
        paths_file = fh.name
    try:
        # warm every worker (each builds its facet arrays once per index version)
        for p in paths * 2:
            urllib.request.urlopen(base + p, timeout=60).read()
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
             "-s", str(ROOT / "bench" / "wrk_mix.lua"), base],
            capture_output=True, text=True, timeout=seconds + 60,
            env={**os.environ, "WRK_PATHS": paths_file})
    finally:
        os.unlink(paths_file)
    m = re.search(r"RESULT (.*)", out.stdout)
    if not m:
        raise RuntimeError(f"wrk printed no result: {out.stdout}\n{out.stderr}")
    values = {k: int(v) for k, v in (kv.split("=") for kv in m.group(1).split())}
    return {
        "requests": values["requests"],
        "requests_per_s": round(values["requests"] / (values["duration_us"] / 1e6), 1),
        "p50_ms": values["p50_us"] / 1000, "p95_ms": values["p95_us"] / 1000,
        "p99_ms": values["p99_us"] / 1000,
        "errors": {k[len("errors_"):]: v for k, v in values.items() if k.startswith("errors_")},
        "connections": connections, "seconds": seconds,
    }


class SlowClients:
    """``n`` connections trickling request headers, one line a second, until ``stop()``."""

    def __init__(self, base: str, n: int, limit_s: float = 600):
        import threading

        host, port = base.removeprefix("http://").split(":")
        self._stop = threading.Event()
        self.opened = 0

        def trickle():
            try:
                with socket.create_connection((host, int(port)), timeout=30) as s:
                    s.sendall(b"GET /api/search?q=oil HTTP/1.1\r\nHost: x\r\n")
                    self.opened += 1
                    deadline = time.time() + limit_s
                    while not self._stop.wait(1.0) and time.time() < deadline:
                        s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                pass

        self._threads = [threading.Thread(target=trickle, daemon=True) for _ in range(n)]
        for t in self._threads:
            t.start()

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--slow-clients", type=int, default=0,
                    help="hold this many connections open, trickling their headers")
    args = ap.parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    tmp = None
    index = args.index
    if index is None:
        tmp = tempfile.mkdtemp()
        index = Path(tmp) / "ix"
        print("ingesting Reuters-21578 ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "ingest.py", "--index", str(index), "-q",
                        str(args.data / "reuters21578")], cwd=ROOT, check=False)
    proc, base = start_server(index, args.workers)
    slow = None
    try:
        paths = QUERIES + article_paths(base)
        if args.slow_clients:
            slow = SlowClients(base, args.slow_clients, limit_s=args.seconds + 300)
            time.sleep(2.5)
        result = run_wrk(base, paths, args.seconds, args.connections)
        if slow:
            result["slow_clients"] = slow.opened
    finally:
        if slow:
            slow.stop()
        proc.terminate()
        proc.wait(timeout=30)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{result['requests_per_s']} requests/s over {result['seconds']}s with "
          f"{result['connections']} connections, {args.workers} gunicorn workers; latency p50 "
          f"{result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms; "
          f"errors {result['errors']}"
          + (f"; {result['slow_clients']} slow clients held open" if args.slow_clients else ""))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
