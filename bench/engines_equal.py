"""Do both engines give the same answers? Every request of a workload on the Whoosh index and on
the Xapian cluster holding the same articles; reports every difference in ``total``, in the
number of stories among the matches and in the facet counts, and the top-10 overlap of
relevance rankings (which may differ: the engines' BM25 differ).

    python -m bench.engines_equal --index IX --queries FILE [--shards HOST:PORT,...] [--json OUT]

Without ``--shards``, a local cluster of ``--shard-count`` shards (3) is started in a temporary
folder and loaded with the Whoosh archive's own articles, names included (written out as JSON
Lines and ingested with ``ingest.py --engine xapian --people never``): the same archive on both
engines. ``--workdir DIR`` makes that cluster in ``DIR/cluster`` and keeps it (``python -m
search.cluster start DIR/cluster --shards 3`` serves it again). (Ingesting the sources again would not do: the Whoosh engine resolves lone surnames
against the index it writes to, which the Xapian engine does not do yet.)

The workload: each query of ``FILE`` (``bench.peers``' query files: the shared generator's
common words, rare words, phrases and person-and-dates filters), asked as it is, sorted by
newest, on its second page, and with the first section, year, person, organisation and place of
its own facets selected (multi-select: each facet is counted without its own filter), and the
year's months when one year is selected. Facet values are compared by their exact keys (case
and accents folded: the engines may show a different spelling of one name); a list of the top
N names may end in a tie, where the engines can list different names of the same count: a
value missing from one side's list counts as a difference only if its count there would have
put it in the list.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from search.analysis import exact_key
from search.models import SearchRequest
from search.service import Archive

FACETS = ("people", "organizations", "places", "section", "year", "month")
FACET_SIZE = 10


def requests_of(spec: dict, first: dict | None) -> list[tuple[str, SearchRequest]]:
    q = f'"{spec["text"]}"' if spec.get("phrase") else spec["text"]
    base = SearchRequest(q=q, facet_size=FACET_SIZE)  # one hit per story, as by default
    if spec.get("person"):
        day = lambda s: dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S").date()  # noqa: E731
        base = replace(base, person=(spec["person"],), date_from=day(spec["date_from"]),
                       date_to=day(spec["date_to"]) - dt.timedelta(days=1))
    out = [("as asked", base), ("newest", replace(base, sort="newest")),
           ("page 2", replace(base, page=2))]
    if first:
        for kind, param in (("section", "section"), ("people", "person"),
                            ("organizations", "organization"), ("places", "place")):
            if first.get(kind):
                out.append((f"{param} selected",
                            replace(base, **{param: tuple(getattr(base, param)) + (first[kind],)})))
        if first.get("year"):
            out.append(("year selected", replace(base, year=(int(first["year"]),))))
    return out


def facet_map(values) -> dict[str, int]:
    return {exact_key(str(v.value)): v.count for v in values}


def facet_differences(kind: str, a, b) -> list[str]:
    ma, mb = facet_map(a), facet_map(b)
    out = []
    for key in sorted(set(ma) | set(mb)):
        if key in ma and key in mb:
            if ma[key] != mb[key]:
                out.append(f"{kind} {key!r}: {ma[key]} vs {mb[key]}")
            continue
        # listed on one side only: a difference unless a tie at the end of a top-N list
        have, other = (ma, mb) if key in ma else (mb, ma)
        lowest = min(other.values()) if other else 0
        full = kind in ("people", "organizations", "places") and len(other) >= FACET_SIZE
        if not (full and have[key] <= lowest):
            out.append(f"{kind} {key!r}: {ma.get(key, '-')} vs {mb.get(key, '-')}")
    return out


def compare(whoosh: Archive, xapian: Archive, specs: list[dict]) -> dict:
    differences: list[dict] = []
    overlaps: list[float] = []
    requests = 0
    times = {"whoosh": [], "xapian": []}
    for spec in specs:
        first_answer = None
        todo = requests_of(spec, None)
        i = 0
        while i < len(todo):
            label, req = todo[i]
            i += 1
            answers = {}
            for name, arch in (("whoosh", whoosh), ("xapian", xapian)):
                started = time.perf_counter()
                answers[name] = arch.search(req)
                times[name].append((time.perf_counter() - started) * 1000)
            requests += 1
            a, b = answers["whoosh"], answers["xapian"]
            found = []
            if a.total != b.total:
                found.append(f"total: {a.total} vs {b.total}")
            if a.stories != b.stories:
                found.append(f"stories: {a.stories} vs {b.stories}")
            if a.undated != b.undated:
                found.append(f"undated: {a.undated} vs {b.undated}")
            for kind in FACETS:
                found += facet_differences(kind, a.facets.get(kind, ()), b.facets.get(kind, ()))
            if found:
                differences.append({"query": spec["text"], "request": label,
                                    "differences": found})
            if label == "as asked":
                first_answer = {k: (a.facets[k][0].value if a.facets.get(k) else None)
                                for k in ("section", "people", "organizations", "places",
                                          "year")}
                todo += requests_of(spec, first_answer)[3:]
                if a.request.effective_sort == "relevance" and a.hits:
                    ids_a = [h.id for h in a.hits]
                    ids_b = {h.id for h in b.hits}
                    overlaps.append(len(ids_b.intersection(ids_a)) / len(ids_a))
    return {"requests": requests, "differences": differences,
            "top10_overlap_median": statistics.median(overlaps) if overlaps else None,
            "top10_overlap_mean": statistics.fmean(overlaps) if overlaps else None,
            "ms_p50": {k: statistics.median(v) for k, v in times.items() if v}}


ROOT = Path(__file__).resolve().parent.parent


def make_queries(archive: Archive, out: Path, n: int = 300) -> None:
    """``n`` queries drawn from ``archive``'s dated articles by the shared query generator
    (``../shared/bench/make_queries.py``, run at benchmark time in a process of its own, as
    ``bench.peers`` runs it)."""
    from bench.peers import _shared_bench

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        with corpus.open("w", encoding="utf-8") as fh:
            for article, _ in archive.export(SearchRequest(sort="oldest", group="none"), 10**9):
                if article.date is not None:
                    fh.write(json.dumps({"headline": article.headline, "body": article.body,
                                         "people": list(article.people),
                                         "date": article.date.isoformat() + "T00:00:00"})
                             + "\n")
        subprocess.run([sys.executable, "-c",
                        "import sys, runpy; m = runpy.run_path(sys.argv[1]); "
                        "m['main'](sys.argv[2], sys.argv[3], int(sys.argv[4]))",
                        str(_shared_bench() / "make_queries.py"), str(corpus), str(out), str(n)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def write_archive(archive: Archive, path: Path) -> int:
    """Every article of ``archive`` as JSON Lines that ``ingest.py`` reads back unchanged."""
    export = archive.export(SearchRequest(sort="oldest", group="none"), 10**9)
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for article, _story in export:
            fh.write(json.dumps({
                "id": article.id, "headline": article.headline, "body": article.body,
                "people": list(article.people), "organizations": list(article.organizations),
                "places": list(article.places),
                "date": article.date.isoformat() if article.date else None,
                "section": article.section, "url": article.url, "byline": article.byline,
                "source": article.source}, ensure_ascii=False) + "\n")
            n += 1
    return n


@contextlib.contextmanager
def loaded_cluster(archive: Archive, shards: int, port: int, workdir: Path):
    """A local cluster holding ``archive``'s articles; yields its NEWS_SHARDS value."""
    source = workdir / "archive.jsonl"
    count = write_archive(archive, source)
    proc = subprocess.Popen([sys.executable, "-m", "search.cluster", "start",
                             str(workdir / "cluster"), "--shards", str(shards), "--port",
                             str(port)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        value = proc.stdout.readline().strip()
        if not value:
            raise SystemExit("the cluster did not start (a port in use? give --port)")
        started = time.perf_counter()
        subprocess.run([sys.executable, str(ROOT / "ingest.py"), "--engine", "xapian",
                        "--shards", value, "--people", "never", "-q", str(source)], cwd=ROOT,
                       check=True)
        seconds = time.perf_counter() - started
        print(f"loaded {count:,} articles into {shards} shards in {seconds:.1f} s "
              f"({count / seconds:,.0f} articles/s)", flush=True)
        yield value
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.engines_equal",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--index", required=True, help="the Whoosh index")
    ap.add_argument("--shards", help="the Xapian cluster (NEWS_SHARDS); default: a local one "
                                     "started and loaded with the index's articles")
    ap.add_argument("--shard-count", type=int, default=3)
    ap.add_argument("--port", type=int, default=33400, help="the local cluster's first port")
    ap.add_argument("--queries", required=True,
                    help="a bench.peers query file (JSON); made from the index's articles by "
                         "the shared generator when it does not exist")
    ap.add_argument("--limit", type=int, default=None, help="only the first N queries")
    ap.add_argument("--json", help="write the report here too")
    ap.add_argument("--workdir", type=Path,
                    help="make the local cluster here and keep it (default: a temporary folder)")
    args = ap.parse_args(argv)
    whoosh = Archive(args.index, engine="whoosh")
    whoosh.warm()
    if not Path(args.queries).exists():
        make_queries(whoosh, Path(args.queries))
    specs = json.loads(Path(args.queries).read_text())[:args.limit]
    with contextlib.ExitStack() as stack:
        shards = args.shards
        if not shards:
            workdir = args.workdir
            if workdir is None:
                workdir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            elif (workdir / "cluster").exists():
                raise SystemExit(f"{workdir / 'cluster'} exists: give a new --workdir")
            else:
                workdir.mkdir(parents=True, exist_ok=True)
            shards = stack.enter_context(loaded_cluster(whoosh, args.shard_count, args.port,
                                                        workdir))
        xapian = Archive(engine="xapian", shards=shards)
        report = compare(whoosh, xapian, specs)
        xapian.close()
    print(f"{report['requests']} requests, {len(specs)} queries: "
          f"{len(report['differences'])} with a difference")
    for d in report["differences"][:50]:
        print(f"  {d['query']!r} ({d['request']}): {'; '.join(d['differences'][:5])}")
    print(f"top-10 overlap of relevance rankings: median {report['top10_overlap_median']}, "
          f"mean {report['top10_overlap_mean']:.3f}" if report["top10_overlap_mean"] is not None
          else "no relevance ranking compared")
    print(f"search p50 ms: {report['ms_p50']}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 1 if report["differences"] else 0


if __name__ == "__main__":
    sys.exit(main())
