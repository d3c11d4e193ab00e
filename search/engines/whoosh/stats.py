"""Figures about an archive: how many articles, what dates, how many people and sections."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from search.engines.whoosh import store
from search.analysis import index_format
from search.engines.whoosh.facets import FacetData


def archive_stats(directory: Path) -> dict:
    """Counts for ``directory``'s live index (``IndexNotFound`` if there is none)."""
    directory = Path(directory)
    ix = store.open_index(directory)
    try:
        with ix.searcher() as searcher:
            return stats_of(directory, searcher, FacetData(searcher))
    finally:
        ix.close()


def stats_of(directory: Path, searcher, data: FacetData) -> dict:
    """Counts from an open searcher and its facet arrays (the service passes its cached ones)."""
    days = data.day[data.dated]
    return {
        "articles": searcher.doc_count(),
        "dated": int(days.size),
        "undated": searcher.doc_count() - int(days.size),
        "first_date": _iso(days.min()) if days.size else None,
        "last_date": _iso(days.max()) if days.size else None,
        "people": len(data.people.index),
        "organizations": len(data.organizations.index),
        "places": len(data.places.index),
        "sections": len(data.sections.index),
        "last_ingest": store.read_meta(directory).get("last_ingest"),
        # 1: made before accent folding and Snowball stems; rebuild it (ingest.py --rebuild)
        "index_format": index_format(searcher.schema),
    }


def _iso(day) -> str:
    return dt.date.fromordinal(int(day) + 1).isoformat()


def main(argv: list[str] | None = None) -> int:
    """``python -m search.engines.whoosh.stats [INDEX_DIR]``: print the archive's figures."""
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
          f"{stats['people']} people, {stats['organizations']} organisations, "
          f"{stats['places']} places, {stats['sections']} sections; "
          f"last ingest {stats['last_ingest']}")
    print(json.dumps(stats))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
