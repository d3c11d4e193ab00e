"""Ingest speed: this project's ingest next to a plain Whoosh ingest of the same articles.

    python -m bench.ingest_bench [--data ../shared/data] [--repeat 3] [--limit N] [--json]

Both sides read Reuters-21578 through the same readers (parsing is inside both timings) and
write the same schema into a fresh index in a temporary folder:
- "project": search.engines.whoosh.indexer.Indexer as ingest.py uses it (batched commits, fingerprints for
  idempotency, people as given by the corpus);
- "plain whoosh": one ``ix.writer()`` with default settings, ``add_document`` per article and
  a single commit, into the schema Whoosh's documentation gives for the same features
  (``documented_schema``: ``StemmingAnalyzer`` text with ``spelling=True`` for suggestions,
  a ``NUMERIC`` year), the way Whoosh's documentation shows.
Prints docs/s per run, the median of each side and their ratio.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import NUMERIC, TEXT
from whoosh.filedb.filestore import FileStorage

from search.engines.whoosh.indexer import Indexer
from search.ingest import check_paths
from search.ingest.records import ExtractMode, load_articles
from search.schema import HEADLINE_BOOST, article_to_doc, build_schema

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def documented_schema():
    """The project's schema as Whoosh's documentation writes it: the same stored values, terms
    and columns, with headline and body as plain ``TEXT(analyzer=StemmingAnalyzer(),
    spelling=True)`` (Whoosh's way to keep words for "did you mean") and the year a sortable
    ``NUMERIC`` field. The project indexes the same terms in one pass per text
    (``search.schema.ArticleText``), takes suggestions from the stems, and keeps the year as a
    column only (it is filtered and counted from the column)."""
    schema = build_schema()
    text = StemmingAnalyzer()
    for name in ("headline", "body", "year"):
        schema.remove(name)
    schema.add("headline", TEXT(stored=True, analyzer=text, field_boost=HEADLINE_BOOST,
                                spelling=True))
    schema.add("body", TEXT(stored=True, analyzer=text, spelling=True))
    schema.add("year", NUMERIC(int, bits=32, signed=False, sortable=True))
    return schema


def _articles(folder: Path, limit: int | None):
    files = check_paths([folder], None)
    n = 0
    for article in load_articles(files, mode=ExtractMode.AUTO, on_reject=lambda e: None):
        yield article
        n += 1
        if limit and n >= limit:
            return


def run_project(folder: Path, limit: int | None) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        with Indexer(Path(tmp) / "ix") as indexer:
            indexer.upsert(_articles(folder, limit))
        return indexer.stats.added, time.perf_counter() - start


def run_plain(folder: Path, limit: int | None) -> tuple[int, float]:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        ix = FileStorage(tmp).create_index(documented_schema())
        writer = ix.writer()
        n = 0
        for article in _articles(folder, limit):
            writer.add_document(**article_to_doc(article.article))
            n += 1
        writer.commit()
        ix.close()
        return n, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--limit", type=int, default=None, help="only the first N articles")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    folder = args.data / "reuters21578"
    if not folder.exists():
        print(f"not found: {folder}", file=sys.stderr)
        return 2
    rates: dict[str, list[float]] = {"project": [], "plain whoosh": []}
    docs = 0
    for i in range(args.repeat):
        # alternate the order so neither side always runs on a warm page cache
        order = [("project", run_project), ("plain whoosh", run_plain)]
        for name, fn in (order if i % 2 == 0 else order[::-1]):
            docs, seconds = fn(folder, args.limit)
            rates[name].append(docs / seconds)
            print(f"run {i + 1} {name:13s} {docs} docs in {seconds:6.1f}s = "
                  f"{docs / seconds:7.0f} docs/s", flush=True)
    medians = {k: statistics.median(v) for k, v in rates.items()}
    result = {"corpus": "reuters21578", "docs": docs, "runs": args.repeat,
              "project_docs_per_s": round(medians["project"], 1),
              "plain_whoosh_docs_per_s": round(medians["plain whoosh"], 1),
              "ratio": round(medians["project"] / medians["plain whoosh"], 2)}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{'':13s} {'docs/s (median)':>16s}\n"
              f"{'project':13s} {result['project_docs_per_s']:16.0f}\n"
              f"{'plain whoosh':13s} {result['plain_whoosh_docs_per_s']:16.0f}\n"
              f"ratio project/plain: {result['ratio']:.2f}x over {docs} docs, {args.repeat} run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
