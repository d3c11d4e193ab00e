"""The people a Whoosh index holds, as lone surnames are resolved against them at ingest
(``PeopleDays``: the shared ``search.resolution.LoneNames`` reads it; the Xapian engine's is
``search.engines.xapian.writer.ShardPeople``)."""

from __future__ import annotations

import contextlib

from search.engines.whoosh.facets import date_columns
from search.engines.whoosh.postings import term_postings
from search.facets import display_name


class PeopleDays:
    """What lone names are resolved against: the archive's people terms, the days of the
    articles naming each (``None`` for an undated one) and a name as written. This is the
    Whoosh engine's, read from one searcher; the Xapian engine's is
    ``search.engines.xapian.writer.ShardPeople``."""

    def __init__(self, searcher):
        self.searcher = searcher
        self.reader = searcher.reader()
        self._years = self._days = None
        self._first: dict[str, int] = {}

    @classmethod
    @contextlib.contextmanager
    def of(cls, ix):
        """A context manager for ``LoneNames``: the people of the Whoosh index ``ix``."""
        with ix.searcher() as searcher:
            yield cls(searcher)

    def terms(self):
        return self.reader.field_terms("people") if "people" in self.reader.schema else ()

    def days(self, term: str) -> list:
        docs = [d for d in term_postings(self.reader, "people", term)[0].tolist()
                if not self.reader.is_deleted(d)]
        if not docs:
            return []
        if self._years is None:
            self._years, self._days = date_columns(self.reader)
        self._first[term] = docs[0]
        return [int(self._days[d]) if self._years[d] > 0 else None for d in docs]

    def display(self, term: str) -> str:
        """The name as an article writes it, for its folded ``term``."""
        return display_name(self.searcher.stored_fields(self._first[term]).get("people"),
                            term, True)
