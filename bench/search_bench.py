"""Results-page latency: this project's search core next to Whoosh used as its documentation shows.

    python -m bench.search_bench [--index DIR] [--data ../shared/data] [--rounds 5] [--json]

A full results page is 10 hits with highlighted headline and snippet, plus people, section and
year facets. All sides answer the same fixed set of requests on the same Reuters-21578 index:
- "project": ``search.service.Archive.search`` (multi-select facets counted with numpy over
  per-document arrays, filters as document masks, highlights for the shown hits only);
- "documented": ``searcher.search(q, filter=And([Term..., DateRange...]), groupedby={people:
  FieldFacet(allow_overlap=True), section: FieldFacet, year: DateRangeFacet})`` and
  ``hit.highlights()`` for headline and body, as in Whoosh's docs;
- "sqlite fts5" (reference): the same page from SQLite FTS5 (``bench.fts5``), built from the same
  articles in a temporary database.
Without ``--index`` the Reuters corpus is ingested into a temporary folder first. Each round runs
every request once on each side (alternating which goes first); the figures are the median and
95th percentile over all timed requests, after one untimed warm-up round.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from dateutil.relativedelta import relativedelta
from whoosh import sorting
from whoosh.query import And, DateRange, Every, Or, Term

from search.engines.whoosh import store
from search.engines.whoosh.indexer import Indexer
from search.ingest import check_paths
from search.ingest.records import load_articles
from search.models import SearchRequest
from search.query import make_parser
from search.schema import doc_to_article
from search.service import Archive

from bench import fts5

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"

D = dt.date
WORKLOAD: list[SearchRequest] = [
    SearchRequest(q="oil"), SearchRequest(q="prices"), SearchRequest(q="bank"),
    SearchRequest(q="trade deficit"), SearchRequest(q="dollar"), SearchRequest(q="profit"),
    SearchRequest(q="volcker"), SearchRequest(q="cocoa"), SearchRequest(q="yen"),
    SearchRequest(q="opec"), SearchRequest(q='"interest rates"'), SearchRequest(q='"crude oil"'),
    SearchRequest(q='"stock exchange"'), SearchRequest(q="petro*"), SearchRequest(q="export*"),
    SearchRequest(q="oil", person=("James Baker",)), SearchRequest(q="dollar", section=("money-fx",)),
    SearchRequest(q="profit", date_from=D(1987, 3, 1), date_to=D(1987, 3, 31)),
    SearchRequest(q="wheat", section=("grain", "wheat")),
    SearchRequest(person=("James Baker", "Volcker")), SearchRequest(section=("earn",)),
    SearchRequest(date_from=D(1987, 4, 1), date_to=D(1987, 4, 15)), SearchRequest(),
    SearchRequest(q="oil", sort="newest"), SearchRequest(year=(1987,), section=("acq",)),
]


def build_index(data: Path, directory: Path) -> None:
    files = check_paths([data / "reuters21578"], None)
    with Indexer(directory) as indexer:
        indexer.upsert(load_articles(files, on_reject=lambda e: None))


def documented_page(searcher, parser, req: SearchRequest) -> int:
    """The page computed the way Whoosh's documentation shows."""
    q = parser.parse(req.q) if req.q else Every()
    filters = []
    if req.person:
        filters.append(Or([Term("people", p.lower()) for p in req.person]))
    if req.section:
        filters.append(Or([Term("section", s.lower()) for s in req.section]))
    if req.year:
        filters.append(Or([DateRange("date", dt.datetime(y, 1, 1), dt.datetime(y, 12, 31, 23, 59))
                           for y in req.year]))
    if req.date_from or req.date_to:
        filters.append(DateRange("date",
                                 dt.datetime.combine(req.date_from, dt.time()) if req.date_from else None,
                                 dt.datetime.combine(req.date_to, dt.time(23, 59)) if req.date_to else None))
    facets = {
        "people": sorting.FieldFacet("people", allow_overlap=True),
        "section": sorting.FieldFacet("section"),
        "year": sorting.DateRangeFacet("date", dt.datetime(1980, 1, 1), dt.datetime(1995, 1, 1),
                                       relativedelta(years=1)),
    }
    sortedby = None if (req.q and req.effective_sort == "relevance") else \
        sorting.FieldFacet("date", reverse=req.effective_sort == "newest")
    results = searcher.search(q, filter=And(filters) if filters else None, limit=10,
                              groupedby=facets, sortedby=sortedby)
    for name in facets:
        results.groups(name)
    for hit in results:
        hit.highlights("headline")
        hit.highlights("body", top=3)
    return len(results)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--index", type=Path, help="an index of Reuters-21578 (default: build one)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-fts5", action="store_true", help="leave out the SQLite FTS5 reference")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        index = args.index
        if index is None:
            if not (args.data / "reuters21578").exists():
                print(f"not found: {args.data / 'reuters21578'}", file=sys.stderr)
                return 2
            index = Path(tmp) / "ix"
            print("ingesting Reuters-21578 into a temporary index ...", file=sys.stderr, flush=True)
            build_index(args.data, index)
        archive = Archive(index)
        ix = store.open_index(index)
        searcher = ix.searcher()
        parser = make_parser(ix.schema)
        sides = {"project": lambda r: archive.search(r).total,
                 "documented": lambda r: documented_page(searcher, parser, r)}
        if not args.no_fts5:
            print("loading the same articles into SQLite FTS5 ...", file=sys.stderr, flush=True)
            fts = fts5.build((doc_to_article(d) for d in searcher.all_stored_fields()),
                             Path(tmp) / "fts5.db")
            sides["sqlite fts5"] = lambda r: fts5.page(fts, r)
        times: dict[str, list[float]] = {name: [] for name in sides}
        for rnd in range(args.rounds + 1):
            order = list(sides.items()) if rnd % 2 == 0 else list(sides.items())[::-1]
            for req in WORKLOAD:
                for name, fn in order:
                    start = time.perf_counter()
                    fn(req)
                    elapsed = (time.perf_counter() - start) * 1000
                    if rnd:  # round 0 warms caches on both sides
                        times[name].append(elapsed)
        searcher.close()
        if "sqlite fts5" in sides:
            fts.close()
        ix.close()
        archive.close()
    out = {"corpus": "reuters21578", "requests": len(WORKLOAD), "rounds": args.rounds}
    for name, values in times.items():
        out[f"{name}_p50_ms"] = round(statistics.median(values), 2)
        out[f"{name}_p95_ms"] = round(percentile(values, 95), 2)
    out["ratio_p50"] = round(out["documented_p50_ms"] / out["project_p50_ms"], 1)
    out["ratio_p95"] = round(out["documented_p95_ms"] / out["project_p95_ms"], 1)
    if "sqlite fts5_p50_ms" in out:
        out["project_vs_fts5_p50"] = round(out["project_p50_ms"] / out["sqlite fts5_p50_ms"], 2)
    if args.json:
        print(json.dumps(out))
    else:
        print(f"results page on Reuters-21578, {len(WORKLOAD)} requests x {args.rounds} rounds")
        print(f"{'':12s} {'p50 ms':>8s} {'p95 ms':>8s}")
        for name in sides:
            print(f"{name:12s} {out[f'{name}_p50_ms']:8.1f} {out[f'{name}_p95_ms']:8.1f}")
        print(f"documented / project: {out['ratio_p50']}x at p50, {out['ratio_p95']}x at p95")
        if "project_vs_fts5_p50" in out:
            print(f"project / sqlite fts5: {out['project_vs_fts5_p50']}x at p50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
