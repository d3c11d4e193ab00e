"""The Whoosh engine (embedded, the default): ``WhooshEngine`` answers what
``search.service.Archive`` is asked, from the index folder. Searches, articles, related
articles, stories, entities, trends, keyword in context, what stands out, stats.

Searchers are pooled and reused until the index changes (a commit by ingest, or a rebuild
swapping ``CURRENT``); then new ones are opened rather than calling ``searcher.refresh()``,
which keeps stale segments after merges in the Whoosh forks. A searcher is used by one thread
at a time. The facet arrays are built once per index version and shared by all threads.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import threading
import time
import weakref
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from whoosh import query as wq

from search import kwic, significant
from search.engines.whoosh import research, store
from search.engines.base import Features
from search.aliases import ALIASES_FILE, Aliases, AliasesError
from search.analysis import uneven_fold
from search.errors import (ArticleNotFound, EntityNotFound, IndexNotFound, PersonNotFound,
                           SearchTimeout, StoryNotFound)
from search.engines.whoosh.facets import FacetCache
from search.models import (ENTITY_KINDS, Article, EntityProfile, FacetValue, RelatedArticle,
                           SearchRequest, SearchResult, Story, StoryVersion)
from search.highlight import highlighted_article
from search.query import DEFAULT_TIME_LIMIT, clean_query_text, parse_query, positive_terms
from search.engines.whoosh.matching import (Selection, first_of, matched_mask, ordered,
                                            rank_scores, run_search)
from search.schema import build_schema, doc_to_article
from search.engines.whoosh.stats import stats_of
from search.trends import (Point, Series, Trends, bucket_range, clipped_bounds,
                           buckets_of)

log = logging.getLogger(__name__)

RELATED_COUNT = 5
STORY_READ = 50  # versions of the article's story whose names count for its related articles
# how much the names an article shares count against its key terms: sharing one rare name
# weighs up to this many times the best key-term score (FacetData.shared_names)
NAMES_WEIGHT = 2.5
POOL_SIZE = 8


class _Opened:
    """An open index and one searcher on it, with the version they show."""

    def __init__(self, directory: Path):
        self.name = store.current_name(directory)
        self.ix = store.open_index(directory)  # IndexNotFound when nothing was ingested
        self.searcher = self.ix.searcher()
        self.key = (self.name, self.ix.latest_generation())

    def current(self, directory: Path) -> bool:
        if store.current_name(directory) != self.name:
            return False
        try:
            return self.searcher.up_to_date()
        except Exception:  # noqa: BLE001 - files of an old generation may be gone
            return False

    def close(self) -> None:
        for obj in (self.searcher, self.ix):
            with contextlib.suppress(Exception):
                obj.close()


def _close_all(pool: list[_Opened]) -> None:
    for opened in list(pool):
        opened.close()
    pool.clear()


class WhooshEngine:
    name = "whoosh"
    features = Features()

    def __init__(self, directory: Path | str, time_limit: float = DEFAULT_TIME_LIMIT):
        self.directory = Path(directory)
        self.time_limit = time_limit
        self._pool: list[_Opened] = []
        self._lock = threading.Lock()
        self._facets = FacetCache()
        self._aliases: tuple[float, Aliases] | None = None
        # an Archive dropped without close() (an app made and discarded) closes its searchers
        # and their open index files when it is collected
        weakref.finalize(self, _close_all, self._pool)

    @contextlib.contextmanager
    def _searching(self) -> Iterator[_Opened]:
        with self._lock:
            opened = self._pool.pop() if self._pool else None
        if opened is not None and not opened.current(self.directory):
            opened.close()
            opened = None
        if opened is None:
            opened = _Opened(self.directory)
        try:
            yield opened
        finally:
            # back to the pool as it is: the next _searching() checks whether it is current
            with self._lock:
                if len(self._pool) < POOL_SIZE:
                    self._pool.append(opened)
                    opened = None
            if opened is not None:
                opened.close()

    def close(self) -> None:
        with self._lock:
            pool = list(self._pool)
            self._pool.clear()
        _close_all(pool)
        self._facets.clear()

    def warm(self) -> None:
        """Open the index and build what searches share now: the facet arrays, the word lists
        of "did you mean" and the people look-up keys (a web worker calls this before it
        takes requests, so that no visitor waits seconds for them on a large archive)."""
        try:
            with self._searching() as opened:
                facets = self._facets.get(opened.key, opened.searcher)
                facets.words("a")
                for table in (facets.people, facets.organizations, facets.places):
                    table.lookup("a", 1)
                research.background_sample(opened.searcher, facets)
            uneven_fold()  # the highlighter's table of characters folding changes in length
        except IndexNotFound:
            pass

    def search(self, request: SearchRequest) -> SearchResult:
        with self._searching() as opened:
            facets = self._facets.get(opened.key, opened.searcher)
            return run_search(opened.searcher, facets, request, self.time_limit)

    def export(self, request: SearchRequest, cap: int) -> Export:
        """Every article ``request`` selects, in its order, up to ``cap``: an ``Export`` to
        iterate (it holds a searcher until closed, so the documents cannot shift under it)."""
        stack = contextlib.ExitStack()
        opened = stack.enter_context(self._searching())
        try:
            facets = self._facets.get(opened.key, opened.searcher)
            deadline = time.perf_counter() + self.time_limit
            # an export keeps every article, each with its story's id
            request = replace(request, group="none")
            sel = Selection(opened.searcher, facets, request, deadline, self.time_limit)
            docs, _ = ordered(sel, opened.searcher, facets, 0, cap, deadline)
            total = len(sel.docs)
        except BaseException:
            stack.close()
            raise
        return Export(total, [d for d, _ in docs], opened.searcher, stack)

    def people_lookup(self, prefix: str, limit: int) -> list[FacetValue]:
        """People of the archive whose name, or a word of it, starts with ``prefix`` (accents
        and case ignored), with their article counts; most articles first."""
        return self.names_lookup("people", prefix, limit)

    def names_lookup(self, kind: str, prefix: str, limit: int) -> list[FacetValue]:
        """``people_lookup`` for a kind of ``ENTITY_KINDS`` (people, organisations, places)."""
        with self._searching() as opened:
            facets = self._facets.get(opened.key, opened.searcher)
            return [FacetValue(name, count, False)
                    for name, count in getattr(facets, kind).lookup(prefix, limit)]

    def cooccurrence(self, name: str, request: SearchRequest | None, size: int) \
            -> tuple[str, int, tuple[FacetValue, ...]]:
        """The people most often named with ``name``, within ``request``'s results when given:
        (the person as the archive writes the name, their articles, (person, count) pairs)."""
        with self._searching() as opened:
            facets = self._facets.get(opened.key, opened.searcher)
            ctx = facets.live
            if request is not None:
                deadline = time.perf_counter() + self.time_limit
                ctx = Selection(opened.searcher, facets, request, deadline, self.time_limit).final
            found = facets.cooccurrence(name, ctx, size)
        if found is None:
            raise PersonNotFound(name)
        return found

    def entity(self, kind: str, name: str, size: int = 10, latest: int = 10) -> EntityProfile:
        """The profile of a person, organisation or place (``kind`` of ``ENTITY_KINDS``);
        ``EntityNotFound`` when no article names it. Counts are of articles, over the whole
        archive; ``size`` names of each kind and sections, the ``latest`` dated articles
        (newest first; undated ones after them when there are too few)."""
        with self._searching() as opened:
            facets = self._facets.get(opened.key, opened.searcher)
            found = facets.entity_docs(kind, name)
            if found is None:
                raise EntityNotFound(name)
            shown, mask = found
            dated = mask & facets.dated
            days = facets.day[dated]
            years = np.bincount(facets.year[dated]) if days.size else np.zeros(0, np.int64)
            docs = np.flatnonzero(dated)
            order = docs[np.argsort(-facets.day[docs], kind="stable")][:latest].tolist()
            order += np.flatnonzero(mask & ~facets.dated)[:latest - len(order)].tolist()
            newest = []
            for d in order:
                fields = opened.searcher.stored_fields(d)
                date = fields.get("date")
                newest.append(RelatedArticle(fields["id"], fields.get("headline", ""),
                                             date.date() if date is not None else None))
            return EntityProfile(
                kind=kind, name=shown, aliases=tuple(self.aliases().spellings_of(kind, shown)), articles=int(np.count_nonzero(mask)),
                first_date=_day(days.min()) if days.size else None,
                last_date=_day(days.max()) if days.size else None,
                years=tuple(FacetValue(int(y), int(years[y]), False)
                            for y in np.flatnonzero(years).tolist()),
                undated=int(np.count_nonzero(mask & ~facets.dated)),
                **{k: facets.top_names(k, mask, size, leave_out=shown if k == kind else None)
                   for k in ENTITY_KINDS},
                sections=facets.section_facet(mask, ())[:size],
                latest=tuple(newest))

    def trends(self, queries: list[str], request: SearchRequest, interval: str) -> Trends:
        """For each of ``queries`` (one series of everything when there is none), the articles
        matching it and ``request``'s filters in each bucket of ``interval`` (see
        ``search.trends``), beside the articles matching the filters alone. The range is
        ``request``'s ``from``/``to`` where given, else the first and last dated article the
        filters select; every bucket of it is listed. When the range holds more than
        ``MAX_BUCKETS`` buckets, the next longer interval is used, and a note says so."""
        with self._searching() as opened:
            searcher = opened.searcher
            facets = self._facets.get(opened.key, searcher)
            deadline = time.perf_counter() + self.time_limit
            base = Selection(searcher, facets, replace(request, q=""), deadline,
                             self.time_limit)
            dated = facets.dated
            in_total = base.final & dated

            made: dict[str, np.ndarray] = {}  # each interval's bucket of every document

            def bucket_array(chosen: str) -> np.ndarray:
                if chosen not in made:
                    made[chosen] = buckets_of(chosen, facets.day, facets.year, facets.month)
                return made[chosen]

            def extent(chosen: str) -> tuple[int, int] | None:
                found = bucket_array(chosen)[in_total]
                return (int(found.min()), int(found.max())) if found.size else None

            interval, lo, hi, notes = bucket_range(interval, request.date_from,
                                                   request.date_to, extent)
            buckets = bucket_array(interval)
            n = hi - lo + 1

            def per_bucket(mask: np.ndarray) -> np.ndarray:
                picked = buckets[mask]
                picked = picked[(picked >= lo) & (picked <= hi)] - lo
                return np.bincount(picked, minlength=n) if n > 0 else np.zeros(0, np.int64)

            totals = per_bucket(in_total)
            bounds = clipped_bounds(interval, lo, hi, request.date_from, request.date_to)
            series = []
            for q in queries or [""]:
                sel = Selection(searcher, facets, replace(request, q=q), deadline,
                                self.time_limit)
                counts = per_bucket(sel.final & dated)
                points = tuple(Point(label, first, last, int(c), int(t)) for (label, first, last),
                               c, t in zip(bounds, counts.tolist(), totals.tolist()))
                series.append(Series(q, points, int(np.count_nonzero(sel.final & ~dated)),
                                     tuple(sel.notes)))
            return Trends(interval, tuple(series), int(np.count_nonzero(base.final & ~dated)),
                          tuple(notes))

    def kwic(self, request: SearchRequest, sort: str = "order",
             limit: int = kwic.DEFAULT_LINES) -> kwic.Kwic:
        """Keyword in context for ``request`` (``search.kwic``)."""
        with self._searching() as opened:
            facets = self._facets.get(opened.key, opened.searcher)
            return research.run_kwic(opened.searcher, facets, request, sort, limit,
                                     time.perf_counter() + self.time_limit, self.time_limit)

    def significant(self, request: SearchRequest,
                    size: int = significant.DEFAULT_SIZE) -> significant.Significant:
        """What is distinctive about ``request``'s articles (``search.significant``)."""
        with self._searching() as opened:
            facets = self._facets.get(opened.key, opened.searcher)
            return research.run_significant(opened.searcher, facets, request, size,
                                            time.perf_counter() + self.time_limit,
                                            self.time_limit)

    def aliases(self) -> Aliases:
        """The archive's aliases file as last read (read again when it changes); none when
        it is missing or unreadable (ingest.py reports that)."""
        path = self.directory / ALIASES_FILE
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return Aliases()
        cached = self._aliases
        if cached is None or cached[0] != mtime:
            try:
                cached = (mtime, Aliases.read(path))
            except AliasesError as exc:
                log.warning("%s", exc)
                cached = (mtime, Aliases())
            self._aliases = cached
        return cached[1]

    def article(self, article_id: str) -> Article:
        with self._searching() as opened:
            stored = opened.searcher.document(id=article_id)
        if stored is None:
            raise ArticleNotFound(article_id)
        return doc_to_article(stored)

    def story(self, article_id: str) -> Story:
        """The story of the article ``article_id``: every version, the lead first, then by
        date (undated last) and id, each with its similarity to the lead."""
        with self._searching() as opened:
            searcher = opened.searcher
            stored = searcher.document(id=article_id)
            if stored is None:
                raise ArticleNotFound(article_id)
            story_id = stored.get("story")
            members = [stored] if not story_id else \
                [searcher.stored_fields(d) for d in searcher.document_numbers(story=story_id)]
        return _story(story_id or article_id, members)

    def story_versions(self, story_id: str) -> tuple[Story, dict[str, Article]]:
        """The story ``story_id`` (its lead's article id) and its versions' articles;
        ``StoryNotFound`` when no article is in it."""
        with self._searching() as opened:
            searcher = opened.searcher
            members = [searcher.stored_fields(d) for d in searcher.document_numbers(story=story_id)] \
                if "story" in searcher.schema else []
            if not members:
                # an index without stories: every article is a story of its own
                stored = searcher.document(id=story_id)
                if stored is None or stored.get("story"):
                    raise StoryNotFound(story_id)
                members = [stored]
        return _story(story_id, members), {f["id"]: doc_to_article(f) for f in members}

    def related(self, article_id: str, count: int = RELATED_COUNT) -> list[RelatedArticle]:
        """Articles most like this one: by the key terms of its headline and body, and by the
        people, organisations and places it shares with them (see ``related_scores``)."""
        with self._searching() as opened:
            searcher = opened.searcher
            docnum = searcher.document_number(id=article_id)
            if docnum is None:
                raise ArticleNotFound(article_id)
            stored = searcher.stored_fields(docnum)
            article = doc_to_article(stored)
            facets = self._facets.get(opened.key, searcher)
            # the names of its story's every version (a wire copy may name more)
            names = {kind: set(getattr(article, kind)) for kind in ENTITY_KINDS}
            if stored.get("story"):
                for d in itertools.islice(searcher.document_numbers(story=stored["story"]),
                                          STORY_READ):
                    other = doc_to_article(searcher.stored_fields(d))
                    for kind in ENTITY_KINDS:
                        names[kind].update(getattr(other, kind))
            shared = facets.shared_names(names)
            # key terms from the opening of a very long body: analysing all of a 5,000,000-
            # character body took 0.9 s, and an article's subject is stated early
            text = f"{article.headline}\n{article.headline}\n{article.body[:RELATED_TEXT_CHARS]}"
            # Whoosh's more_like query (its key terms, weighted), ranked with numpy
            key_terms = searcher.key_terms_from_text("body", text, numterms=12)
            if not key_terms and shared is None:
                return []
            deadline = time.perf_counter() + self.time_limit
            mask = np.zeros(facets.maxdoc, dtype=bool)
            query = None
            if key_terms:
                query = wq.Or([wq.Term("body", word, boost=weight) for word, weight in key_terms])
                try:
                    mask = matched_mask(query, searcher, facets, deadline)
                except SearchTimeout:
                    query = None  # the names alone, rather than a late page
            if shared is not None:
                mask = mask | (shared > 0)
            mask &= facets.live
            mask[docnum] = False
            # other versions of its own story are not related articles: they are the same
            if facets.story_ids is not None:
                mask &= facets.story != facets.story[docnum]
            docs = np.flatnonzero(mask)
            if not len(docs):
                return []
            text_scores = np.zeros(len(docs))
            if query is not None:
                text_scores, _ = rank_scores(query, searcher, facets, docs, deadline)
            scores = related_scores(text_scores, shared[docs] if shared is not None else None)
            best = docs[first_of(-scores, count)]
            return [RelatedArticle(a.id, a.headline, a.date) for a in
                    (doc_to_article(searcher.stored_fields(int(d))) for d in best)]

    def highlight_article(self, article: Article, q: str, part: int = 1) \
            -> tuple[str, list[str], int]:
        """The headline and the paragraphs of one part of the body (``article_parts``) as
        escaped HTML, with the words of the search ``q`` (the one that led to the article) in
        ``<mark>``; and how many parts there are. ``part`` past the last is the last."""
        terms: dict = {}
        schema = _analyzers()
        if q.strip():
            with self._searching() as opened:
                reader = opened.searcher.reader()
                facets = self._facets.get(opened.key, opened.searcher)
                query = parse_query(clean_query_text(q, []), opened.searcher.schema, reader, [],
                                    facets.lexicon)
                terms = positive_terms(query, reader)
                # the index's own analyzers (an index of an earlier format has its own)
                schema = {name: opened.searcher.schema[name].analyzer
                          for name in ("headline", "body")}
        return highlighted_article(article.headline, article.body, terms, schema, part)

    def stats(self) -> dict:
        with self._searching() as opened:
            facets = self._facets.get(opened.key, opened.searcher)
            return stats_of(self.directory, opened.searcher, facets)


def related_scores(text: np.ndarray, shared: np.ndarray | None) -> np.ndarray:
    """Related articles' scores: their key-term scores (BM25, scaled to the best one's 1) plus
    ``NAMES_WEIGHT`` times the weight of the article's names they name too (``shared``, from
    ``FacetData.shared_names``: near 1 for one rare name). An article about Kim Kardashian
    and one about Kim Clijsters share the key term "kim"; only the first shares her name."""
    top = float(text.max()) if len(text) else 0.0
    scores = text / top if top > 0 else np.zeros(len(text))
    if shared is not None:
        scores = scores + NAMES_WEIGHT * shared
    return scores


def _story(story_id: str, members: list[dict]) -> Story:
    versions = []
    for fields in members:
        article = doc_to_article(fields)
        containment, jaccard = fields.get("story_similarity") or (1.0, 1.0)
        versions.append(StoryVersion(article.id, article.headline, article.date,
                                     article.source, containment, jaccard))
    versions.sort(key=lambda v: (v.date is None, v.date or dt.date.min, v.id))
    return Story(story_id, versions[0].id, tuple(versions))


class Export:
    """The articles of an export, read one by one from the searcher it holds; ``close()``
    gives the searcher back (iterating to the end does too)."""

    def __init__(self, total: int, docs: list[int], searcher, stack: contextlib.ExitStack):
        self.total = total
        self.docs = docs
        self.truncated = total > len(docs)
        self._searcher = searcher
        self._stack = stack

    def __len__(self) -> int:
        return len(self.docs)

    def __iter__(self) -> Iterator[tuple[Article, str]]:
        """(article, its story's id) pairs."""
        try:
            for docnum in self.docs:
                stored = self._searcher.stored_fields(docnum)
                yield doc_to_article(stored), stored.get("story") or stored["id"]
        finally:
            self.close()

    def close(self) -> None:
        self._stack.close()


@lru_cache(maxsize=1)
def _analyzers() -> dict:
    schema = build_schema()
    return {"headline": schema["headline"].analyzer, "body": schema["body"].analyzer}


RELATED_TEXT_CHARS = 100_000


def _day(day) -> dt.date:
    """A date from ``FacetData.day`` (days since 0001-01-01)."""
    return dt.date.fromordinal(int(day) + 1)
