"""People extraction at ingest, measured as a user runs it: ``ingest.py`` on BBC News.

    python -m bench.people_speed [--data ../shared/data] [--repeat 3]

Side by side in one run, each into a fresh index (median of ``--repeat`` runs each):

- ``never``: ``--people never`` (no extraction: the baseline);
- ``extract``: the default (people extracted from every article, none has a people field);
- ``rerun``: the same command again on the index ``extract`` made (every file unchanged).

For each: seconds, articles per second, and the peak memory of the whole ingest (the process
and its writer and extraction processes), as the sum of their proportional set sizes (PSS:
pages shared after a fork are counted once), sampled every 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data"


def _children(pid: int) -> list[int]:
    out = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                out += [int(c) for c in fh.read().split()]
    except OSError:
        pass
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_pss_mb(root: int) -> float:
    todo, total = [root], 0
    while todo:
        pid = todo.pop()
        total += _pss_kb(pid)
        todo += _children(pid)
    return total / 1024


def run(args: list[str]) -> dict:
    """One ingest.py run: its --json summary, seconds and peak PSS of its process tree."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(ROOT / "ingest.py"), "--json", "-q", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    peak = 0.0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_pss_mb(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"ingest failed: {err[-2000:]}")
    summary = json.loads(out.strip().splitlines()[-1])
    return {"seconds": seconds, "peak_mb": peak, "summary": summary}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)
    bbc = args.data / "bbc_news" / "bbc"
    if not bbc.is_dir():
        print(f"not found: {bbc}", file=sys.stderr)
        return 2
    files = sum(1 for _ in bbc.rglob("*.txt"))
    results: dict[str, list[dict]] = {"never": [], "extract": [], "rerun": []}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            results["never"].append(run(["--index", f"{tmp}/never", "--people", "never", str(bbc)]))
            results["extract"].append(run(["--index", f"{tmp}/auto", str(bbc)]))
            results["rerun"].append(run(["--index", f"{tmp}/auto", str(bbc)]))
    report = {"machine": f"{os.cpu_count()} cores", "articles": files, "repeat": args.repeat}
    for name, runs in results.items():
        secs = statistics.median(r["seconds"] for r in runs)
        report[name] = {"seconds": round(secs, 2), "articles_per_second": round(files / secs, 1),
                        "peak_mb": round(max(r["peak_mb"] for r in runs), 1),
                        "summary": runs[-1]["summary"]}
    report["rerun_vs_never"] = round(report["rerun"]["seconds"] / report["never"]["seconds"], 2)
    for name in results:
        r = report[name]
        print(f"{name:8} {r['seconds']:7.2f} s  {r['articles_per_second']:7.1f} articles/s  "
              f"peak {r['peak_mb']:6.1f} MB  {r['summary']}")
    print(f"re-run of unchanged files / --people never: {report['rerun_vs_never']}x")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
