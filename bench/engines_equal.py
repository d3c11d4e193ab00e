"""Do both engines give the same answers? Every request of a workload on the Whoosh index and on
the Xapian cluster holding the same articles; reports every difference in ``total`` and in the
facet counts, and the top-10 overlap of relevance rankings (which may differ: the engines'
BM25 differ).

    python -m bench.engines_equal --index IX --shards HOST:PORT,... --queries FILE [--json OUT]

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
import datetime as dt
import json
import statistics
import sys
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
    base = SearchRequest(q=q, facet_size=FACET_SIZE, group="none")
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.engines_equal",
                                 description=__doc__.split("\n")[0])
    ap.add_argument("--index", required=True, help="the Whoosh index")
    ap.add_argument("--shards", required=True, help="the Xapian cluster (NEWS_SHARDS)")
    ap.add_argument("--queries", required=True, help="a bench.peers query file (JSON)")
    ap.add_argument("--limit", type=int, default=None, help="only the first N queries")
    ap.add_argument("--json", help="write the report here too")
    args = ap.parse_args(argv)
    specs = json.loads(Path(args.queries).read_text())[:args.limit]
    whoosh = Archive(args.index, engine="whoosh")
    xapian = Archive(engine="xapian", shards=args.shards)
    whoosh.warm()
    report = compare(whoosh, xapian, specs)
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
