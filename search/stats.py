"""Figures about an archive: how many articles, what dates, how many people and sections."""

from __future__ import annotations

from pathlib import Path

from whoosh.util.times import long_to_datetime

from search import store
from search.dates import MAX_YEAR


def archive_stats(directory: Path) -> dict:
    """Counts for ``directory``'s live index (``IndexNotFound`` if there is none)."""
    ix = store.open_index(directory)
    try:
        with ix.searcher() as searcher:
            reader = searcher.reader()
            dates = [d for d in _dates(reader) if d is not None]
            return {
                "articles": searcher.doc_count(),
                "dated": len(dates),
                "undated": searcher.doc_count() - len(dates),
                "first_date": min(dates).isoformat() if dates else None,
                "last_date": max(dates).isoformat() if dates else None,
                "people": _distinct(reader, "people"),
                "sections": _distinct(reader, "section"),
                "last_ingest": store.read_meta(directory).get("last_ingest"),
            }
    finally:
        ix.close()


def _dates(reader):
    years = reader.column_reader("year")
    raw = reader.column_reader("date", translate=False)
    for docnum in reader.all_doc_ids():
        # an undated article has no year: its column holds the default (the largest value)
        yield long_to_datetime(raw[docnum]).date() if years[docnum] <= MAX_YEAR else None


def _distinct(reader, field: str) -> int:
    """Distinct values of ``field`` among live documents (the lexicon may keep deleted ones)."""
    count = 0
    for term in reader.lexicon(field):
        if any(True for _ in reader.postings(field, term).all_ids()):
            count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    """``python -m search.stats [INDEX_DIR]``: print the archive's figures."""
    import json
    import sys

    from search.errors import IndexNotFound

    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0]) if args else store.default_index_dir()
    try:
        stats = archive_stats(directory)
    except IndexNotFound as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{stats['articles']} articles in {directory}: {stats['dated']} dated "
          f"({stats['first_date']} to {stats['last_date']}), {stats['undated']} undated; "
          f"{stats['people']} people, {stats['sections']} sections; "
          f"last ingest {stats['last_ingest']}")
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
