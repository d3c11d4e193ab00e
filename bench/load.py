"""Load test: wrk against the production server (gunicorn) on 127.0.0.1, bounded in time.

    python -m bench.load [--index DIR] [--seconds 15] [--connections 8] [--workers 2]

Without ``--index``, Reuters-21578 (../shared/data) is ingested into a temporary folder first.
The request mix cycles through search pages, JSON searches (words, phrases, prefixes, person /
section / date filters, browsing, paging) and article pages. Prints requests per second,
p50/p95/p99 latency and error counts (connection errors, timeouts, non-2xx answers).
Traffic goes to 127.0.0.1 only, and wrk stops after ``--seconds``.
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--seconds", type=int, default=15)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--workers", type=int, default=2)
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
    try:
        paths = QUERIES + article_paths(base)
        result = run_wrk(base, paths, args.seconds, args.connections)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{result['requests_per_s']} requests/s over {result['seconds']}s with "
          f"{result['connections']} connections, {args.workers} gunicorn workers; latency p50 "
          f"{result['p50_ms']:.1f} ms, p95 {result['p95_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms; "
          f"errors {result['errors']}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
