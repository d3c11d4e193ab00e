"""The Xapian engine on a local cluster of 1, 2 and 4 shards, beside the Whoosh engine: ingest
rate and results-page latency on one corpus and query set.

    python -m bench.cluster_bench --size 1000000 --shards 1,2,4
    options: --workdir bench/out/peers  --port 33600  --limit N  --keep  --json FILE
             --bulk  --tail N  --bulk-only  --no-whoosh
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

With ``--bulk`` (what a million articles need: through a writer on the network they take
about an hour per shard count here), the corpus but its last ``--tail`` articles is loaded
once, into the largest shard count's folders directly (``ingest.py --shards`` naming the
shards' folders, ``python -m search.cluster folders``), timed; each shard is then compacted
(``xapian-compact``), and the smaller shard counts are made by merging those shards
(compacting shards ``j, j + n, ...`` into shard ``j`` of ``n``: an article's shard is CRC-32
of its id modulo the count, so the merged shards are where an ingest into ``n`` shards puts
each article), timed. Each cluster is then started on its shards and the last ``--tail``
articles are ingested into it through its writers, as a user adds to an archive (timed:
the network ingest rate at that size); then the pages, against the whole corpus on both
engines. Every shard count in ``--shards`` must divide the largest.
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


def start_cluster(root: Path, shards: int, port: int, fresh: bool = True) \
        -> tuple[subprocess.Popen, str]:
    if fresh:
        shutil.rmtree(root, ignore_errors=True)
    proc = subprocess.Popen([sys.executable, "-m", "search.cluster", "start", str(root),
                             "--shards", str(shards), "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    value = proc.stdout.readline().strip()
    if not value:
        proc.wait(timeout=30)
        raise SystemExit(f"the cluster did not start (exit {proc.returncode}): give --port")
    return proc, value


def split(corpus: Path, tail: int) -> tuple[Path, Path]:
    """``corpus`` as two files beside it: all but its last ``tail`` lines, and those."""
    head_file = corpus.with_suffix(f".head{tail}.jsonl")
    tail_file = corpus.with_suffix(f".tail{tail}.jsonl")
    if not (head_file.exists() and tail_file.exists()):
        with open(corpus, "rb") as fh:
            lines = sum(1 for _ in fh)
        with open(corpus, "rb") as fh, open(head_file, "wb") as h, open(tail_file, "wb") as t:
            for i, line in enumerate(fh):
                (h if i < lines - tail else t).write(line)
    return head_file, tail_file


def folders(root: Path, shards: int) -> list[Path]:
    return [root / "primary" / f"shard-{i}" for i in range(shards)]


def bulk_cluster(workdir: Path, stem: str, built: Path, most: int, n: int,
                 timings: dict) -> Path:
    """The bulk load in ``built`` (``most`` shards' folders), each shard compacted, or merged
    into ``n`` shards: the cluster folder (made when its turn comes, so that one cluster at a
    time takes the disk beside the load: at a million articles each takes some 15 GB)."""
    root = workdir / f"cluster-{stem}-{n}"
    shutil.rmtree(root, ignore_errors=True)
    started = time.perf_counter()
    for j, target in enumerate(folders(root, n)):
        target.parent.mkdir(parents=True, exist_ok=True)
        sources = [str(f) for f in folders(built, most)[j::n]]
        subprocess.run(["xapian-compact", "--no-renumber" if n == most else "--multipass",
                        *sources, str(target)], check=True, stdout=subprocess.DEVNULL)
    timings[f"compact_{n}_seconds"] = round(time.perf_counter() - started, 1)
    print(f"bulk: {n} shard(s) made in {timings[f'compact_{n}_seconds']} s", file=sys.stderr,
          flush=True)
    return root


def bulk_load(workdir: Path, stem: str, head_file: Path, shards: int) -> tuple[Path, dict]:
    """``head_file`` loaded into ``shards`` shards' folders (``ingest.py --shards`` naming
    them), timed; a load that completed before (its ``bulk.json``) is reused, not repeated:
    the merges read it and leave it as it is."""
    built = workdir / f"bulk-{stem}-{shards}"
    done = built / "bulk.json"
    if done.exists():
        print(f"bulk: reusing the load of {built} ({done})", file=sys.stderr, flush=True)
        return built, json.loads(done.read_text())
    # a load that was stopped part way is completed (the ingest skips what it holds), and
    # the articles it held are said: the rate is this run's
    before = _held(folders(built, shards))
    print(f"bulk: loading {head_file.name} into {shards} shards' folders"
          f"{f' (holding {before:,} articles already)' if before else ''} ...",
          file=sys.stderr, flush=True)
    value = ",".join(str(f) for f in folders(built, shards))
    seconds = ingest(head_file, value)
    timings = {"bulk_load_seconds": round(seconds, 1), "bulk_size_gb": _gb(built),
               "held_before": before,
               "bulk_per_second": round((_held(folders(built, shards)) - before) / seconds)}
    done.write_text(json.dumps(timings) + "\n")
    return built, timings


def _held(shard_folders: list[Path]) -> int:
    import xapian

    return sum(xapian.Database(str(f)).get_doccount() for f in shard_folders
               if (f / "iamglass").exists())


def _gb(root: Path) -> float:
    return round(sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) / 1e9, 2)


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
            keep: bool, bulk: bool = False, tail: int = 20_000,
            with_whoosh: bool = True) -> dict:
    from search.service import Archive

    corpus, query_file = prepare(workdir, size, False, 300)
    queries = json.loads(query_file.read_text())[:limit]
    with open(corpus) as fh:
        articles = sum(1 for _ in fh)
    project = workdir / f"{corpus.stem}.project"
    if with_whoosh and not project.exists():
        raise SystemExit(f"{project} not found: run python -m bench.peers --size {size} first "
                         "(or give --no-whoosh)")
    started = time.perf_counter()
    whoosh = Archive(project, engine="whoosh") if with_whoosh else None
    if whoosh is not None:
        whoosh.warm()
    report = {"corpus": corpus.stem, "articles": articles, "queries": len(queries),
              "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                         f"{platform.python_version()}",
              "whoosh_open_s": round(time.perf_counter() - started, 1) if whoosh else None,
              "clusters": {}}
    loaded, source = articles, corpus
    if bulk:
        tail = min(tail, articles - 1)
        head_file, source = split(corpus, tail)
        most = max(shard_counts)
        if any(most % n for n in shard_counts):
            raise SystemExit(f"--bulk: every shard count must divide {most}")
        built, timings = bulk_load(workdir, corpus.stem, head_file, most)
        report["bulk"] = {"articles": articles - tail, **timings}
        loaded = tail
    for n in shard_counts:
        root = bulk_cluster(workdir, corpus.stem, built, most, n, report["bulk"]) if bulk \
            else workdir / f"cluster-{corpus.stem}-{n}"
        # ports of their own for each cluster: a server's children may hold the last one's
        # listening sockets for a moment after it stops
        proc, value = start_cluster(root, n, port + 100 * n, fresh=not bulk)
        try:
            print(f"{n} shard(s): ingesting {loaded:,} articles through the writers ...",
                  file=sys.stderr, flush=True)
            seconds = ingest(source, value)
            xapian = Archive(engine="xapian", shards=value)
            print(f"{n} shard(s): {loaded / seconds:,.0f} articles/s; pages ...",
                  file=sys.stderr, flush=True)
            times = pages({"whoosh": whoosh, "xapian": xapian} if whoosh else
                          {"xapian": xapian}, queries)
            xapian.close()
            differ = sum(1 for a, b in zip(times["whoosh"]["totals"], times["xapian"]["totals"])
                         if a != b) if whoosh else None
            report["clusters"][n] = {
                "ingested": loaded,
                "ingest_seconds": round(seconds, 1),
                "ingest_per_second": round(loaded / seconds),
                "size_gb": _gb(root),
                "totals_differing": differ,
                "pages": summarise(times, queries)}
            print_report(report)  # (each shard count's figures as soon as they are made)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=120)
            if not keep:
                shutil.rmtree(root, ignore_errors=True)
    if bulk and not keep:
        shutil.rmtree(built, ignore_errors=True)
    if whoosh is not None:
        whoosh.close()
    return report


def print_report(report: dict) -> None:
    print(f"\n{report['corpus']}: {report['articles']:,} articles, {report['queries']} queries;"
          f" {report['machine']}")
    if "bulk" in report:
        b = report["bulk"]
        resumed = f", completing a load that held {b['held_before']:,}" \
            if b.get("held_before") else ""
        print(f"bulk load of {b['articles']:,} articles into shards' folders{resumed}: "
              f"{b['bulk_per_second']:,} articles/s ({b['bulk_load_seconds']} s, "
              f"{b['bulk_size_gb']} GB); compacted / merged: " + ", ".join(
                  f"{k.split('_')[1]} shard(s) {v} s" for k, v in b.items()
                  if k.startswith("compact_")))
    for n, c in report["clusters"].items():
        print(f"\n{n} shard(s): ingest of {c['ingested']:,} articles through the writers "
              f"{c['ingest_per_second']:,} articles/s ({c['ingest_seconds']} s), "
              f"{c['size_gb']} GB; totals differing from Whoosh's: {c['totals_differing']}")
        engines = [e for e in ("whoosh", "xapian") if f"{e}.first.p50" in
                   next(iter(c["pages"].values()))]
        print("  kind    " + "".join(f"  {e} {p} p50/p95".rjust(24)
                                     for p in ("first", "repeat") for e in engines))
        for kind, row in c["pages"].items():
            print(f"  {kind:8}" + "".join(
                f"{row[f'{e}.{p}.p50']:15.1f} /{row[f'{e}.{p}.p95']:7.1f}"
                for p in ("first", "repeat") for e in engines))


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
    ap.add_argument("--bulk", action="store_true",
                    help="load all but the last --tail articles into the shards' folders "
                         "directly, once, and merge them for the smaller shard counts")
    ap.add_argument("--tail", type=int, default=20_000,
                    help="with --bulk: the articles then ingested through the writers")
    ap.add_argument("--bulk-only", action="store_true",
                    help="only the --bulk load into the largest shard count's folders (kept, "
                         "and reused by a --bulk run after it)")
    ap.add_argument("--no-whoosh", action="store_true",
                    help="the cluster alone, without the Whoosh engine's index beside it (its "
                         "figures then come from bench.peers or bench.perf runs)")
    args = ap.parse_args(argv)
    counts = [int(n) for n in args.shards.split(",") if n.strip()]
    if args.bulk_only:
        corpus, _ = prepare(args.workdir, args.size, False, 300)
        with open(corpus, "rb") as fh:
            articles = sum(1 for _ in fh)
        head_file, _ = split(corpus, min(args.tail, articles - 1))
        built, timings = bulk_load(args.workdir, corpus.stem, head_file, max(counts))
        print(json.dumps({"folder": str(built), **timings}))
        return 0
    report = measure(args.workdir, args.size, counts, args.port, args.limit, args.keep,
                     args.bulk, args.tail, not args.no_whoosh)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
