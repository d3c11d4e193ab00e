"""The Xapian engine on a local cluster of 1, 2 and 4 shards, beside the Whoosh engine: ingest
rate and results-page latency on one corpus and query set.

    python -m bench.cluster_bench --size 1000000 --shards 1,2,4
    options: --workdir bench/out/peers  --port 33600  --limit N  --keep  --json FILE
    (also: python -m bench.perf --cluster 1,2,4 --size N)

It reuses ``bench.peers``' work folder: the synthetic corpus (``synthN.jsonl``), its 300 queries
(``synthN.q300.json``) and the project's Whoosh index of it (``synthN.project``), made by
``python -m bench.peers --size N`` when missing. For each shard count it starts a cluster
(``python -m search.cluster start``, every server on this machine: the shards share its two
cores and its disk), ingests the corpus through ``ingest.py --engine xapian --people never``
as a user runs it (timed end to end), then sends every query to both engines in one process,
interleaved, twice (first sight, repeated), each the whole page (``Archive.search``: 10 hits
with highlights, exact multi-select facets). The cluster's files are removed afterwards
unless ``--keep`` (a million articles take gigabytes per shard count).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench.peers import Project, by_kind, prepare

ROOT = Path(__file__).resolve().parent.parent


def start_cluster(root: Path, shards: int, port: int) -> tuple[subprocess.Popen, str]:
    shutil.rmtree(root, ignore_errors=True)
    proc = subprocess.Popen([sys.executable, "-m", "search.cluster", "start", str(root),
                             "--shards", str(shards), "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    value = proc.stdout.readline().strip()
    if not value:
        proc.wait(timeout=30)
        raise SystemExit(f"the cluster did not start (exit {proc.returncode}): give --port")
    return proc, value


def ingest(corpus: Path, shards: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, str(ROOT / "ingest.py"), "--engine", "xapian", "--shards",
                    shards, "--people", "never", "-q", str(corpus)], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def pages(engines: dict, queries: list[dict]) -> dict:
    """Every query to every engine, interleaved (the order alternating), first sight then
    repeated; ms per answer, and the totals of the first answers."""
    helper = Project()
    times = {name: {"first": [], "repeat": [], "totals": []} for name in engines}
    names = list(engines)
    for i, spec in enumerate(queries):
        req = helper.request(spec)
        order = names if i % 2 == 0 else names[::-1]
        for phase in ("first", "repeat"):
            for name in order:
                started = time.perf_counter()
                result = engines[name].search(req)
                times[name][phase].append((time.perf_counter() - started) * 1000)
                if phase == "first":
                    times[name]["totals"].append(result.total)
    return times


def summarise(times: dict, queries: list[dict]) -> dict:
    return {kind: {k: round(v, 2) for k, v in row.items()}
            for kind, _, row in by_kind(times, queries)}


def measure(workdir: Path, size: int, shard_counts: list[int], port: int, limit: int | None,
            keep: bool) -> dict:
    from search.service import Archive

    corpus, query_file = prepare(workdir, size, False, 300)
    queries = json.loads(query_file.read_text())[:limit]
    with open(corpus) as fh:
        articles = sum(1 for _ in fh)
    project = workdir / f"{corpus.stem}.project"
    if not project.exists():
        raise SystemExit(f"{project} not found: run python -m bench.peers --size {size} first")
    whoosh = Archive(project, engine="whoosh")
    started = time.perf_counter()
    whoosh.warm()
    report = {"corpus": corpus.stem, "articles": articles, "queries": len(queries),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                         f"{platform.python_version()}",
              "whoosh_open_s": round(time.perf_counter() - started, 1), "clusters": {}}
    for n in shard_counts:
        root = workdir / f"cluster-{corpus.stem}-{n}"
        # ports of their own for each cluster: a server's children may hold the last one's
        # listening sockets for a moment after it stops
        proc, value = start_cluster(root, n, port + 100 * n)
        try:
            print(f"{n} shard(s): ingesting {articles:,} articles ...", file=sys.stderr,
                  flush=True)
            seconds = ingest(corpus, value)
            size_bytes = sum(f.stat().st_size for f in root.rglob("*") if f.is_file())
            xapian = Archive(engine="xapian", shards=value)
            print(f"{n} shard(s): {articles / seconds:,.0f} articles/s; pages ...",
                  file=sys.stderr, flush=True)
            times = pages({"whoosh": whoosh, "xapian": xapian}, queries)
            xapian.close()
            differ = sum(1 for a, b in zip(times["whoosh"]["totals"], times["xapian"]["totals"])
                         if a != b)
            report["clusters"][n] = {
                "ingest_seconds": round(seconds, 1),
                "ingest_per_second": round(articles / seconds),
                "size_gb": round(size_bytes / 1e9, 2),
                "totals_differing": differ,
                "pages": summarise(times, queries)}
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
    whoosh.close()
    return report


def print_report(report: dict) -> None:
    print(f"\n{report['corpus']}: {report['articles']:,} articles, {report['queries']} queries;"
          f" {report['machine']}")
    for n, c in report["clusters"].items():
        print(f"\n{n} shard(s): ingest {c['ingest_per_second']:,} articles/s "
              f"({c['ingest_seconds']} s), {c['size_gb']} GB; totals differing from Whoosh's: "
              f"{c['totals_differing']}")
        print("  kind      whoosh first p50/p95   xapian first p50/p95   whoosh repeat      "
              "xapian repeat")
        for kind, row in c["pages"].items():
            print(f"  {kind:8}" + "".join(
                f"{row[f'{e}.{p}.p50']:10.1f} /{row[f'{e}.{p}.p95']:8.1f}"
                for p in ("first", "repeat") for e in ("whoosh", "xapian")))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cluster_bench",
                                 description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=20_000)
    ap.add_argument("--shards", default="1,2,4", help="shard counts, commas between")
    ap.add_argument("--workdir", type=Path, default=ROOT / "bench" / "out" / "peers")
    ap.add_argument("--port", type=int, default=33600)
    ap.add_argument("--limit", type=int, default=None, help="only the first N queries")
    ap.add_argument("--keep", action="store_true", help="keep the clusters' files")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    counts = [int(n) for n in args.shards.split(",") if n.strip()]
    report = measure(args.workdir, args.size, counts, args.port, args.limit, args.keep)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
