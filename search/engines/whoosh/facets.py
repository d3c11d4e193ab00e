"""Multi-select facets (people, section, year) counted exactly over the whole match set.

``FacetData`` holds, for one version of the index, per-document arrays built once from the
postings and columns: which people each document names, its section and its date. Counting a
facet is then a couple of numpy operations over a boolean mask of matched documents, instead of
``groupedby`` walking every hit. The same arrays give filter masks and date sorting.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import weakref
from collections import OrderedDict

import numpy as np
from whoosh.fields import COLUMN
from whoosh.index import FileIndex

from search.analysis import exact_key
from search.dates import MAX_YEAR
from search.facets import _with_selected, display_name, lookup_entries, lookup_names
from search.models import FacetValue
from search.engines.whoosh.postings import field_lengths, numeric_column, term_postings

log = logging.getLogger(__name__)

# Whoosh DATETIME columns hold microseconds since 0001-01-01
_US_PER_DAY = 86_400 * 10**6
_DAYS_0001_TO_1970 = 719_162  # date(1970, 1, 1).toordinal() - date(1, 1, 1).toordinal()


def column_array(reader, field: str, dtype, translate: bool = True) -> np.ndarray:
    """The values of a column field for every document number, segment by segment.

    Whoosh's multi-segment ``column_reader`` leaves out segments that have no column file for
    the field (a segment where no document had a value) and so shifts every later value onto
    the wrong document; each segment's own reader returns the default value instead.
    """
    out = np.zeros(reader.doc_count_all(), dtype=dtype)
    # a column field's values are stored as they are: no translation to apply
    raw_values = not translate or isinstance(reader.schema[field], COLUMN)
    for sub, offset in reader.leaf_readers():
        n = sub.doc_count_all()
        if not n:  # an index with no segment yet (Whoosh's EmptyReader has no columns)
            continue
        values = numeric_column(sub.column_reader(field, translate=False), n) \
            if raw_values else None
        if values is None:
            values = np.fromiter(sub.column_reader(field, translate=translate), dtype=dtype,
                                 count=n)
        out[offset:offset + n] = values
    return out


_NAME_FIELDS = ("people", "organizations", "places", "section")


def date_columns(reader) -> tuple[np.ndarray, np.ndarray]:
    """Every document's year (0: undated) and day (days since 0001-01-01; meaningless where
    the year is 0: undated documents hold the date column's default, the largest unsigned
    64-bit value)."""
    years = column_array(reader, "year", np.int64)
    raw = column_array(reader, "date", np.uint64, translate=False)
    return years, (raw // np.uint64(_US_PER_DAY)).astype(np.int64)


class _TermTable:
    """The terms of one exact-match field, their display forms and the documents of each."""

    def __init__(self, reader, field: str, stored_field: str, multi: bool, live: np.ndarray,
                 stored: dict | None = None):
        maxdoc = len(live)
        self.terms: list[str] = []
        self.display: list[str] = []
        self.index: dict[str, int] = {}
        docs_per_term: list[np.ndarray] = []
        # (an index made before organisations and places has no such fields)
        for term in reader.field_terms(field) if field in reader.schema else ():
            if not term:
                continue
            docs = term_postings(reader, field, term)[0].astype(np.int64)
            docs = docs[live[docs]]
            if not len(docs):
                continue  # only deleted documents had it
            # keyed as a filter value is looked up (accents folded: in an index made before
            # folding, "josé" and "jose" would be two terms; the larger one answers)
            key = exact_key(term)
            if key not in self.index or len(docs) > len(docs_per_term[self.index[key]]):
                self.index[key] = len(self.terms)
            self.terms.append(key)
            # a term's display form from its first article's stored fields, each article read
            # once for all the tables (``stored``: names of one article share their article)
            first = int(docs[0])
            fields = stored.get(first) if stored is not None else None
            if fields is None:
                fields = reader.stored_fields(first)
                if stored is not None:  # the names only: not a body per article kept
                    fields = stored[first] = {k: fields.get(k) for k in _NAME_FIELDS}
            self.display.append(display_name(fields.get(stored_field), term, multi))
            docs_per_term.append(docs)
        self.docs = docs_per_term
        lengths = np.array([len(d) for d in docs_per_term], dtype=np.int64)
        self.doc_counts = lengths
        self._keys: list[tuple[str, tuple[str, ...]]] | None = None
        self.pair_docs = np.concatenate(docs_per_term) if docs_per_term else np.zeros(0, np.int64)
        self.pair_terms = np.repeat(np.arange(len(self.terms), dtype=np.int64), lengths)
        # the same pairs by document (CSR): a small match set counts only its own documents'
        # terms instead of looking at every pair
        order = np.argsort(self.pair_docs, kind="stable")
        self.terms_by_doc = self.pair_terms[order]
        self.doc_start = np.searchsorted(self.pair_docs[order], np.arange(maxdoc + 1))
        if not multi:
            self.of_doc = np.full(maxdoc, -1, dtype=np.int64)
            self.of_doc[self.pair_docs] = self.pair_terms

    def mask_for(self, values, maxdoc: int) -> np.ndarray:
        mask = np.zeros(maxdoc, dtype=bool)
        for value in values:
            tid = self.index.get(exact_key(value))
            if tid is not None:
                mask[self.docs[tid]] = True
        return mask

    SMALL = 16  # a match set of under 1/16 of the documents is counted document by document

    def counts(self, ctx: np.ndarray) -> np.ndarray:
        """How many documents of ``ctx`` (a mask over documents) have each term."""
        if np.count_nonzero(ctx) * self.SMALL >= len(ctx):
            return np.bincount(self.pair_terms[ctx[self.pair_docs]], minlength=len(self.terms))
        return self.counts_of(np.flatnonzero(ctx))

    def counts_of(self, docs: np.ndarray) -> np.ndarray:
        """``counts`` for the documents ``docs`` (sorted, distinct), read through the CSR."""
        starts = self.doc_start[docs]
        lengths = self.doc_start[docs + 1] - starts
        total = int(lengths.sum())
        if not total:
            return np.zeros(len(self.terms), dtype=np.int64)
        # the positions of every pair of these documents: each document's run, end to end
        first = np.cumsum(lengths) - lengths
        at = np.arange(total) + np.repeat(starts - first, lengths)
        return np.bincount(self.terms_by_doc[at], minlength=len(self.terms))

    def lookup(self, text: str, limit: int) -> list[tuple[str, int]]:
        """``lookup_names`` over this table's values."""
        if self._keys is None:  # built on first use
            self._keys = lookup_entries(zip(self.display, self.doc_counts.tolist()))
        return lookup_names(self._keys, text, limit)


class FacetData:
    """Per-document facet arrays for one searcher (one index generation)."""

    def __init__(self, searcher):
        started = time.perf_counter()
        reader = searcher.reader()
        self.maxdoc = reader.doc_count_all()
        self.live = np.ones(self.maxdoc, dtype=bool)
        for sub, offset in reader.leaf_readers():
            if sub.has_deletions():
                deleted = np.fromiter(sub._segment.deleted_docs(), dtype=np.int64)
                self.live[offset + deleted] = False
        stored: dict = {}  # the stored fields read for display forms, shared by the tables
        self.people = _TermTable(reader, "people", "people", True, self.live, stored)
        self.organizations = _TermTable(reader, "organizations", "organizations", True,
                                        self.live, stored)
        self.places = _TermTable(reader, "places", "places", True, self.live, stored)
        self.sections = _TermTable(reader, "section", "section", False, self.live, stored)
        del stored
        years, days = date_columns(reader)
        self.dated = (years > 0) & (years <= MAX_YEAR) & self.live
        self.year = np.where(self.dated, years, 0)
        self.day = np.where(self.dated, days, 0)  # days since 0001-01-01
        months = (self.day - _DAYS_0001_TO_1970).astype("datetime64[D]").astype("datetime64[M]")
        self.month = np.where(self.dated, months.astype(np.int64) % 12 + 1, 0)  # 1-12
        self._stories(reader)
        # postings and lengths are read later, on demand, through a reader of the same
        # segments that this object owns: the searcher passed in goes back to a pool that may
        # close it, and other threads use their own searchers meanwhile. One thread reads
        # through it at a time (a Whoosh reader is not safe to share between threads).
        self._reader = _own_reader(reader)
        self._read_lock = threading.Lock()
        self._closer = weakref.finalize(self, _close_quietly, self._reader) \
            if self._reader is not reader else None
        self._docs_cache: OrderedDict = OrderedDict()
        self._docs_cache_bytes = 0
        self._docs_lock = threading.Lock()
        self._words: dict[str, list[str]] | None = None
        self._lexicons: dict[str, list[str]] = {}
        self._memo: dict = {}
        log.info("facet arrays for %d documents built in %.0f ms", self.maxdoc,
                 (time.perf_counter() - started) * 1000)

    def _stories(self, reader) -> None:
        """``story``: each document's story as a number; ``story_ids``: each number's story id
        (None in an index without stories, where every article is a story of its own, numbered
        by document); ``story_versions``: each story's number of live articles."""
        if "story" in reader.schema:
            numbers: dict = {}
            values = column_array(reader, "story", object)
            # an article without a story (none should be) is a story of its own
            self.story = np.fromiter(
                (numbers.setdefault(v or ("", i), len(numbers)) for i, v in enumerate(values)),
                dtype=np.int64, count=self.maxdoc)
            self.story_ids = [k if isinstance(k, str) else None for k in numbers]
        else:
            self.story = np.arange(self.maxdoc, dtype=np.int64)
            self.story_ids = None
        self.story_versions = np.bincount(self.story[self.live],
                                          minlength=len(self.story_ids or self.story))

    def stories_among(self, docs: np.ndarray) -> int:
        """How many distinct stories the documents ``docs`` belong to."""
        seen = np.zeros(len(self.story_versions), dtype=bool)
        seen[self.story[docs]] = True
        return int(np.count_nonzero(seen))

    # -- documents of a term (cached per index version) ----------------------------------------

    DOCS_CACHE_BYTES = 128 * 2**20

    def term_postings(self, field: str, text) -> tuple[np.ndarray, np.ndarray]:
        """(documents, weights) of every posting of ``text`` in ``field``, deleted documents
        included (see ``search.engines.whoosh.postings.term_postings``)."""
        return self.cached(("postings", field, text),
                           lambda: self._reading(term_postings, field, text))

    def term_docs(self, field: str, text) -> np.ndarray:
        """The live documents holding ``text`` in ``field``, as a sorted int32 array."""
        docs = self.term_postings(field, text)[0]
        return docs[self.live[docs]]

    WORD_FIELDS = ("headline", "body")

    def close(self) -> None:
        """Close the reader of its own now (else when the arrays are collected)."""
        if self._closer is not None:
            self._closer()

    def words(self, first: str) -> list[str]:
        """The archive's indexed (stemmed) headline and body words starting with ``first``, for
        spelling suggestions (``search.query._suggest``)."""
        with self._docs_lock:
            if self._words is None:
                words: set[str] = set()
                # segment by segment: the merged lexicon of a hundred segments is a heap merge
                # in Python (13 s at a million articles)
                with self._read_lock:
                    for sub, _ in self._reader.leaf_readers():
                        for field in self.WORD_FIELDS:
                            words.update(sub.field_terms(field))
                by_letter: dict[str, list[str]] = {}
                for word in sorted(w for w in words if w and w[0].isalpha()):
                    by_letter.setdefault(word[0], []).append(word)
                self._words = by_letter
            return self._words.get(first, [])

    def lexicon(self, field: str) -> list[str]:
        """Every indexed word of ``field``, sorted (fuzzy words, ``search.operators``): for
        headline and body, the words of both (``words``)."""
        key = "words" if field in self.WORD_FIELDS else field  # one list for both
        found = self._lexicons.get(key)
        if found is None:
            if key == "words":
                self.words("a")
                found = [w for letter in sorted(self._words) for w in self._words[letter]]
            else:
                with self._read_lock:
                    found = sorted(t.decode("utf-8") if isinstance(t, bytes) else t
                                   for t in self._reader.lexicon(field)) \
                        if field in self._reader.schema else []
            with self._docs_lock:
                self._lexicons[key] = found
        return found

    def lengths(self, field: str) -> np.ndarray:
        """Every document's length of ``field``, quantised as Whoosh scores with it."""
        return self.cached(("lengths", field), lambda: self._reading(field_lengths, field))

    def _reading(self, read, *args):
        with self._read_lock:
            return read(self._reader, *args)

    def memo(self, key, build):
        """``build()``, made once for this index version and kept (small derived tables)."""
        with self._docs_lock:
            if key in self._memo:
                return self._memo[key]
        value = build()
        with self._docs_lock:
            return self._memo.setdefault(key, value)

    def cached(self, key, compute):
        """``compute()`` (an array or a tuple of arrays) cached under ``key`` for this index
        version, least recently used first out past ``DOCS_CACHE_BYTES``."""
        with self._docs_lock:
            hit = self._docs_cache.get(key)
            if hit is not None:
                self._docs_cache.move_to_end(key)
                return hit
        value = compute()
        size = sum(a.nbytes for a in value) if isinstance(value, tuple) else value.nbytes
        with self._docs_lock:
            if key not in self._docs_cache:
                self._docs_cache[key] = value
                self._docs_cache_bytes += size
            while self._docs_cache_bytes > self.DOCS_CACHE_BYTES and len(self._docs_cache) > 1:
                _, old = self._docs_cache.popitem(last=False)
                self._docs_cache_bytes -= (sum(a.nbytes for a in old) if isinstance(old, tuple)
                                           else old.nbytes)
        return value

    # -- filters -------------------------------------------------------------------------------

    def person_mask(self, names, match_all: bool = False) -> np.ndarray:
        if not match_all:
            return self.people.mask_for(names, self.maxdoc)
        mask = self.live.copy()
        for name in names:
            mask &= self.people.mask_for([name], self.maxdoc)
        return mask

    def section_mask(self, names) -> np.ndarray:
        return self.sections.mask_for(names, self.maxdoc)

    def year_mask(self, years) -> np.ndarray:
        return self.dated & np.isin(self.year, np.array(list(years), dtype=np.int64))

    def date_mask(self, first_day: int | None, last_day: int | None) -> np.ndarray:
        mask = self.dated.copy()
        if first_day is not None:
            mask &= self.day >= first_day
        if last_day is not None:
            mask &= self.day <= last_day
        return mask

    # -- counting ------------------------------------------------------------------------------

    def people_facet(self, ctx: np.ndarray, selected, size: int) -> tuple[FacetValue, ...]:
        return self.names_facet(self.people, ctx, selected, size)

    def names_facet(self, table: _TermTable, ctx: np.ndarray, selected, size: int) \
            -> tuple[FacetValue, ...]:
        """The ``size`` names of ``table`` (people, organisations or places) most often named
        in ``ctx``, and the ``selected`` ones."""
        counts = table.counts(ctx)
        chosen = {exact_key(s) for s in selected}
        nonzero = np.flatnonzero(counts)
        if len(nonzero) > size:
            # only the names counted at least as often as the size-th need sorting by name
            kth = np.partition(counts[nonzero], len(nonzero) - size)[len(nonzero) - size]
            nonzero = nonzero[counts[nonzero] >= kth]
        # by count, then by name
        order = sorted(nonzero.tolist(), key=lambda t: (-counts[t], table.display[t]))
        values = [FacetValue(table.display[t], int(counts[t]),
                             table.terms[t] in chosen) for t in order[:size]]
        return _with_selected(values, selected, lambda s: self._count_of(table, counts, s))

    def section_facet(self, ctx: np.ndarray, selected) -> tuple[FacetValue, ...]:
        counts = self.sections.counts(ctx)
        chosen = {exact_key(s) for s in selected}
        order = sorted(np.flatnonzero(counts).tolist(),
                       key=lambda t: (-counts[t], self.sections.display[t]))
        values = [FacetValue(self.sections.display[t], int(counts[t]),
                             self.sections.terms[t] in chosen) for t in order]
        return _with_selected(values, selected, lambda s: self._count_of(self.sections, counts, s))

    def year_facet(self, ctx: np.ndarray, selected) -> tuple[tuple[FacetValue, ...], int]:
        in_ctx = ctx & self.dated
        years, counts = np.unique(self.year[in_ctx], return_counts=True)
        found = dict(zip(years.tolist(), counts.tolist()))
        for y in selected:
            found.setdefault(y, 0)
        values = tuple(FacetValue(y, found[y], y in selected) for y in sorted(found))
        undated = int(np.count_nonzero(ctx & self.live & ~self.dated))
        return values, undated

    def month_facet(self, ctx: np.ndarray, year: int, date_from, date_to) \
            -> tuple[FacetValue, ...]:
        """Articles per month of ``year`` (all twelve, "YYYY-MM"); a month is selected when the
        date range is exactly that month."""
        counts = np.bincount(self.month[ctx & self.dated & (self.year == year)], minlength=13)
        chosen = None
        if date_from and date_to and date_from.day == 1 and date_from.year == year \
                and (date_from.year, date_from.month) == (date_to.year, date_to.month) \
                and (date_to + dt.timedelta(days=1)).month != date_to.month:
            chosen = date_from.month
        return tuple(FacetValue(f"{year:04d}-{m:02d}", int(counts[m]), m == chosen)
                     for m in range(1, 13))

    def entity_docs(self, kind: str, name: str) -> tuple[str, np.ndarray] | None:
        """(the name as the archive writes it, a mask of the live articles naming it) for a
        person, organisation or place (``kind``); None when no article names it."""
        table = getattr(self, kind)
        tid = table.index.get(exact_key(name))
        if tid is None:
            return None
        mask = np.zeros(self.maxdoc, dtype=bool)
        mask[table.docs[tid]] = True  # (live documents only: see _TermTable)
        return table.display[tid], mask

    def shared_names(self, names: dict[str, set[str]]) -> np.ndarray | None:
        """For every document, how much of ``names`` ({kind: names}) it names too: the sum of
        the rarity of each name it shares, log(1 + articles / its articles), over the rarity of
        a name in one article (a rare name shared counts near 1, a name in half the archive
        about 0.1); None when the archive knows none of them."""
        out = np.zeros(self.maxdoc)
        live = max(1, int(np.count_nonzero(self.live)))
        known = False
        for kind, found in names.items():
            table = getattr(self, kind)
            for name in found:
                tid = table.index.get(exact_key(name))
                if tid is None:
                    continue
                docs = table.docs[tid]
                out[docs] += float(np.log1p(live / max(1, len(docs))))
                known = True
        return out / np.log1p(live) if known else None

    def top_names(self, kind: str, ctx: np.ndarray, size: int, leave_out: str | None = None) \
            -> tuple[FacetValue, ...]:
        """The ``size`` names of ``kind`` most often named in ``ctx`` (by count, then name),
        ``leave_out`` left out."""
        table = getattr(self, kind)
        counts = table.counts(ctx)
        if leave_out is not None:
            tid = table.index.get(exact_key(leave_out))
            if tid is not None:
                counts[tid] = 0
        order = sorted(np.flatnonzero(counts).tolist(), key=lambda t: (-counts[t], table.display[t]))
        return tuple(FacetValue(table.display[t], int(counts[t]), False) for t in order[:size])

    def cooccurrence(self, name: str, ctx: np.ndarray, size: int) \
            -> tuple[str, int, tuple[FacetValue, ...]] | None:
        """The people most often named in the articles of ``ctx`` that name ``name``: its
        display form, how many such articles there are, and (person, articles) pairs."""
        found = self.entity_docs("people", name)
        if found is None:
            return None
        shown, with_person = found
        with_person &= ctx
        return shown, int(np.count_nonzero(with_person)), self.top_names(
            "people", with_person, size, leave_out=shown)

    @staticmethod
    def _count_of(table: _TermTable, counts: np.ndarray, value: str) -> tuple[str, int]:
        tid = table.index.get(exact_key(value))
        return (table.display[tid], int(counts[tid])) if tid is not None else (value, 0)


def _own_reader(reader):
    """A new reader of exactly ``reader``'s segments (the same generation and deletions)."""
    segments = reader.segments()
    leaves = [sub for sub, _ in reader.leaf_readers()]
    if not segments or not hasattr(leaves[0], "_storage"):
        return reader  # an index with no segment: nothing to read later
    return FileIndex._reader(leaves[0]._storage, reader.schema, list(segments),
                             reader.generation())


def _close_quietly(reader) -> None:
    try:
        reader.close()
    except Exception:  # noqa: BLE001 - closing at collection time is best effort
        log.debug("closing a facet reader failed", exc_info=True)


class FacetCache:
    """``FacetData`` per index version, built once and shared by every thread."""

    def __init__(self):
        self._lock = threading.Lock()
        self._key = None
        self._data: FacetData | None = None

    def get(self, key, searcher) -> FacetData:
        with self._lock:
            if self._key != key or self._data is None:
                self._data = FacetData(searcher)
                self._key = key
            return self._data

    def clear(self) -> None:
        """Forget the arrays (their reader is closed once no search holds them)."""
        with self._lock:
            self._data = None
            self._key = None
