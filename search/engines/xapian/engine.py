"""The Xapian engine: the archive on a cluster of ``xapian-tcpsrv`` shards.

What it shares with the Whoosh engine: the request and result types (``search.models``), the
query syntax and its checks (``search.query.parse_query``: the parser's query tree is compiled
by ``search.engines.xapian.compiler``), the analysis (the same terms: ``documents``), the
highlighter and the facet rules (multi-select: each facet counted without its own filter;
selected values always listed; counts exact over every matching article).

What it does its own way: matching and ranking (Xapian's BM25 over the shards, with global
statistics), facet counts (match spies on value slots, merged across shards by Xapian,
``get_mset`` asked to check every document so that counts are exact), paging and sorting, one
hit per story (Xapian's collapse on the story of articles that have other versions; the
stories kept at ingest by ``search.engines.xapian.stories``).

A shard that does not answer is left out: the answer comes from the others with ``partial``
and the missing shards named (``search.engines.xapian.shards``).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from functools import lru_cache

import numpy as np
import xapian

from search.analysis import exact_key
from search.engines.base import Features
from search.engines.xapian.compiler import Lexicon, Unsupported, compile_query
from search.engines.xapian.documents import (ALIASES_KEY, NAME_JOIN, NAME_PREFIX, SLOT_DAY,
                                             SLOT_MONTH, SLOT_NAMES, SLOT_OLDEST, SLOT_SECTION,
                                             SLOT_SHARED, SLOT_STORY, SLOT_YEAR, TEXT_PREFIX,
                                             YEAR_PREFIX, document_article, document_story,
                                             id_term, kept_aliases, name_keys, slot_day, stored,
                                             story_term, term)
from search.engines.xapian.shards import ShardSet, read_timeout_for, retrying
from search import kwic, significant as sig
from search.aliases import Aliases
from search.errors import (ArticleNotFound, EntityNotFound, PersonNotFound, SearchTimeout,
                           StoryNotFound)
from search.facets import _with_selected, lookup_entries, lookup_names
from search.highlight import (highlight_whole, highlighted_article, plain_pattern, snippet,
                              word_former, word_pattern)
from search.models import (ENTITY_KINDS, Article, EntityProfile, FacetValue, Hit,
                           RelatedArticle, SearchRequest, SearchResult, Story, StoryRef,
                           StoryVersion)
from search.trends import (Point, Series, Trends, bucket_of_date, bucket_range,
                           clipped_bounds)
from search.query import (DEFAULT_TIME_LIMIT, SUGGEST_BELOW, clean_query_text, parse_query,
                          only_exclusions, positive_terms, request_text, safe_source_url,
                          suggest)
from search.schema import build_schema

log = logging.getLogger(__name__)

FILTER_KINDS = {"person": "people", "organization": "organizations", "place": "places"}


@lru_cache(maxsize=1)
def _schema():
    return build_schema()


def _or_terms(terms: list[str]) -> xapian.Query:
    if not terms:
        return xapian.Query.MatchNothing
    return xapian.Query(xapian.Query.OP_OR, [xapian.Query(t) for t in terms])


def _name_filter(kind: str, values, match_all: bool = False) -> xapian.Query:
    prefix = NAME_PREFIX[kind]
    keys = [term(prefix, exact_key(v)) for v in values]
    if match_all:
        return xapian.Query(xapian.Query.OP_AND, [xapian.Query(t) for t in keys])
    return _or_terms(keys)


class _Request:
    """A request's parsed query and filters, each kept apart (multi-select facets)."""

    def __init__(self, req: SearchRequest, lexicon: Lexicon):
        self.req = req
        self.notes: list[str] = []
        self.text = request_text(req, self.notes)
        self.q = parse_query(self.text, lexicon.schema, lexicon, self.notes, lexicon.words)
        try:
            self.query = compile_query(self.q, lexicon)
        except Unsupported as exc:
            self.notes.append(f"{exc}; showing the whole archive")
            self.q, self.query = None, xapian.Query.MatchAll
        self.filters: dict[str, xapian.Query | None] = {
            "person": _name_filter("people", req.person, req.person_match == "all")
            if req.person else None,
            "organization": _name_filter("organizations", req.organization)
            if req.organization else None,
            "place": _name_filter("places", req.place) if req.place else None,
            "section": _or_terms([term(NAME_PREFIX["section"], k)
                                  for k in name_keys("section", req.section)])
            if req.section else None,
            "year": _or_terms([f"{YEAR_PREFIX}{y}" for y in req.year]) if req.year else None,
            "dates": xapian.Query(xapian.Query.OP_VALUE_RANGE, SLOT_DAY,
                                  req.date_from.strftime("%Y%m%d") if req.date_from
                                  else "00000000",
                                  req.date_to.strftime("%Y%m%d") if req.date_to else "99991231")
            if (req.date_from or req.date_to) else None,
        }

    def context(self, *skip: str) -> xapian.Query:
        filters = [f for name, f in self.filters.items() if f is not None and name not in skip]
        if not filters:
            return self.query
        return xapian.Query(xapian.Query.OP_FILTER, self.query,
                            xapian.Query(xapian.Query.OP_AND, filters))


class _Counts:
    """Facet counts of one query: match spies on the value slots, exact over every match."""

    def __init__(self, db: xapian.Database, query: xapian.Query, slots: list[int]):
        enquire = xapian.Enquire(db)
        enquire.set_query(query)
        enquire.set_weighting_scheme(xapian.BoolWeight())
        self.spies = {slot: xapian.ValueCountMatchSpy(slot) for slot in slots}
        for spy in self.spies.values():
            enquire.add_matchspy(spy)
        mset = enquire.get_mset(0, 0, db.get_doccount())
        self.total = mset.get_matches_estimated()

    def values(self, slot: int) -> dict[str, int]:
        return _spied(self.spies[slot])


def _count(db: xapian.Database, query: xapian.Query) -> int:
    """How many articles ``query`` matches, exactly."""
    return _Counts(db, query, []).total


# The bindings' ``ValueCountMatchSpy.values()`` makes a Python item object per value: a common
# word's names spies hold tens of thousands of values (lists of names), and that took half of
# its page's time. The iterator underneath, read directly, costs half as much.
_VALUES = (getattr(getattr(xapian, "_xapian", None), "ValueCountMatchSpy_values_begin", None),
           getattr(getattr(xapian, "_xapian", None), "ValueCountMatchSpy_values_end", None))


def _spied(spy: xapian.ValueCountMatchSpy) -> dict[str, int]:
    begin, end = _VALUES
    if begin is None or end is None:
        return {_text(item.term): item.termfreq for item in spy.values()}
    out: dict[str, int] = {}
    it, stop = begin(spy), end(spy)
    term, freq, at_end = it.get_term, it.get_termfreq, it.equals
    while not at_end(stop):
        out[_text(term())] = freq()
        next(it)
    return out


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _names(counts: dict[str, int]) -> tuple[dict[str, int], dict[str, str]]:
    """Counts per name key from a names slot's counts (each value a list of names) and the
    way each key is written (its most frequent spelling, then the first in order).

    A common word's match holds tens of thousands of distinct lists of a few thousand names:
    the lists are counted per name as written first, and each distinct name's key made once
    (``exact_key`` costs microseconds; once per name in every list, it took seconds)."""
    key_of: dict[str, str] = {}
    per_form: dict[str, int] = {}  # a name as written: the articles it is first of its key in
    for joined, n in counts.items():
        if NAME_JOIN not in joined:
            if joined:
                per_form[joined] = per_form.get(joined, 0) + n
            continue
        seen = set()
        for name in joined.split(NAME_JOIN):
            if not name:
                continue
            key = key_of.get(name)
            if key is None:
                key = key_of[name] = exact_key(name)
            if key in seen:
                continue
            seen.add(key)
            per_form[name] = per_form.get(name, 0) + n
    per_key: dict[str, int] = {}
    spellings: dict[str, dict[str, int]] = {}
    for name, n in per_form.items():
        key = key_of.get(name)
        if key is None:
            key = exact_key(name)
        per_key[key] = per_key.get(key, 0) + n
        spellings.setdefault(key, {})[name] = n
    display = {k: min(forms, key=lambda f: (-forms[f], f)) for k, forms in spellings.items()}
    return per_key, display


def _top(per_key: dict[str, int], display: dict[str, str], selected, size: int | None):
    chosen = {exact_key(s) for s in selected}
    order = sorted(per_key, key=lambda k: (-per_key[k], display[k]))
    if size is not None:
        order = order[:size]
    values = [FacetValue(display[k], per_key[k], k in chosen) for k in order]

    def count_of(value: str) -> tuple[str, int]:
        k = exact_key(value)
        return (display[k], per_key[k]) if k in per_key else (value, 0)

    return _with_selected(values, selected, count_of)


class XapianEngine:
    """The archive's searches on a Xapian cluster (``NEWS_SHARDS``)."""

    name = "xapian"
    features = Features(
        exact_facets=True, multi_select_facets=True, phrases=True, prefixes=True,
        fuzzy=True, proximity=True, exact_words=True, date_operator=True,
        stories=True, spelling=True, related=True, entities=True, trends=True,
        kwic=True, significant=True, aliases=True, partial_answers=True, time_limit=True)

    def __init__(self, shards: ShardSet | str, time_limit: float = DEFAULT_TIME_LIMIT):
        self.shards = shards if isinstance(shards, ShardSet) else ShardSet(shards)
        self.time_limit = time_limit  # (sets the shards' read timeout)
        self.directory = self.shards.describe()
        self._lexicons: dict = {}
        self._aliases_cache: tuple[str, Aliases] | None = None

    @property
    def time_limit(self) -> float:
        return self._time_limit

    @time_limit.setter
    def time_limit(self, seconds: float) -> None:
        # a search waits for a shard as long as its time limit lets it (shards.read_timeout_for)
        self._time_limit = seconds
        self.shards.read_timeout = read_timeout_for(seconds)

    # -- plumbing ------------------------------------------------------------------------------

    def _lexicon(self, opened) -> Lexicon:
        # the word lists, kept while the shards' contents stay the same
        key = (tuple(opened.servers), opened.db.get_doccount(), opened.db.get_lastdocid())
        cache = self._lexicons.get(key)
        if cache is None:
            self._lexicons.clear()
            cache = self._lexicons[key] = {}
        return Lexicon(opened.db, _schema(), cache)

    def warm(self) -> None:
        retrying(self.shards, lambda opened: opened.db.get_doccount())

    def close(self) -> None:
        self.shards.close()

    def count(self) -> int:
        return retrying(self.shards, lambda opened: opened.db.get_doccount())

    # -- searching -----------------------------------------------------------------------------

    def search(self, request: SearchRequest) -> SearchResult:
        return retrying(self.shards, lambda opened: self._search(opened, request))

    def _search(self, opened, req: SearchRequest) -> SearchResult:
        started = time.perf_counter()
        db = opened.db
        lexicon = self._lexicon(opened)
        sel = _Request(req, lexicon)
        final = sel.context()
        # the main query: the page, its total, and the facets whose own filter is not set
        enquire, sort = self._ordered(db, sel, req)
        # the facets whose own filter is not set are counted over the final match set: by
        # spies on the page's own match when it is ranked by relevance; with a sort by value
        # the spies of remote shards count some documents twice (seen with Xapian 1.4.22
        # servers), so they are counted apart
        slots = {kind: SLOT_NAMES[kind] for param, kind in FILTER_KINDS.items()
                 if not getattr(req, param) or (param == "person" and req.person_match == "all")}
        if not req.section:
            slots["section"] = SLOT_SECTION
        if not req.year:
            slots["year"] = SLOT_YEAR
        # the stories among the matches: the articles of stories with other versions are
        # counted by story (the others are a story each)
        slots["shared"] = SLOT_SHARED
        if req.grouped:
            # one hit per story: its best version in this order (collapsed on each shard, and
            # again across them); the total of articles is then counted by a spy on a slot
            # every article has
            enquire.set_collapse_key(SLOT_SHARED)
            if sort == "relevance":
                slots["every"] = SLOT_OLDEST
        spies = {kind: xapian.ValueCountMatchSpy(slot) for kind, slot in slots.items()}
        if sort == "relevance":
            for spy in spies.values():
                enquire.add_matchspy(spy)
        start = (req.page - 1) * req.per_page
        # the match stops at the time limit (Xapian's own, on every shard); a match cut short
        # has no exact total nor facets, and is refused as the Whoosh engine refuses it
        if self.time_limit > 0:  # (0 is "no limit" to Xapian, and no time at all here)
            enquire.set_time_limit(self.time_limit)
        mset = enquire.get_mset(start, req.per_page, db.get_doccount())
        if self.time_limit <= 0 or (
                mset.get_matches_lower_bound() != mset.get_matches_upper_bound()
                and time.perf_counter() - started >= self.time_limit):
            raise SearchTimeout(f"the search took longer than {self.time_limit:g}s; make it "
                                "more specific (fewer common words, a filter, a date range)")
        apart = _Counts(db, final, list(slots.values())) if sort != "relevance" else None
        if apart is not None:
            total = apart.total
        elif "every" in spies:
            total = sum(_spied(spies["every"]).values())
        else:
            total = mset.get_matches_estimated()
        shared = apart.values(SLOT_SHARED) if apart is not None else _spied(spies["shared"])
        stories = total - sum(shared.values()) + len(shared)

        def counted(kind: str, param: str, slot: int) -> dict[str, int]:
            if apart is not None and kind in slots:
                return apart.values(slot)
            if kind in spies:
                return _spied(spies[kind])
            return _Counts(db, sel.context(param), [slot]).values(slot)

        facets: dict[str, tuple[FacetValue, ...]] = {}
        for param, kind in FILTER_KINDS.items():
            per_key, display = _names(counted(kind, param, SLOT_NAMES[kind]))
            facets[kind] = _top(per_key, display, getattr(req, param), req.facet_size)
        sections, display = _names(counted("section", "section", SLOT_SECTION))
        facets["section"] = _top(sections, display, req.section, None)
        if "year" in spies:
            years, year_total = counted("year", "year", SLOT_YEAR), total
        else:
            ctx = _Counts(db, sel.context("year"), [SLOT_YEAR])
            years, year_total = ctx.values(SLOT_YEAR), ctx.total
        found = {int(y): n for y, n in years.items() if y}
        undated = year_total - sum(found.values())
        for y in req.year:
            found.setdefault(y, 0)
        facets["year"] = tuple(FacetValue(y, found[y], y in req.year) for y in sorted(found))
        facets["month"] = self._months(db, sel, req) if len(req.year) == 1 else ()
        last_page = max(1, -(-(stories if req.grouped else total) // req.per_page))
        if req.page > last_page:
            sel.notes.append(f"there is no page {req.page}: this search has {last_page} "
                             f"page{'s' if last_page != 1 else ''}")
        terms = positive_terms(sel.q, lexicon)
        analyzers = _schema()
        hits = []
        items = list(mset)
        versions = self._versions(db, [item.document for item in items])
        for item in items:
            article = document_article(item.document)
            story_id = document_story(item.document)[0] or article.id
            hits.append(Hit(
                id=article.id, headline=article.headline,
                headline_html=highlight_whole(article.headline,
                                              terms.get("headline", frozenset()),
                                              analyzers["headline"].analyzer),
                snippet_html=snippet(article.body, terms.get("body", frozenset()),
                                     analyzers["body"].analyzer),
                date=article.date, people=article.people,
                organizations=article.organizations, places=article.places,
                section=article.section, source_url=safe_source_url(article.url),
                score=round(item.weight, 4) if sort == "relevance" else None,
                story=StoryRef(story_id, versions.get(story_id, 1))))
        suggestion = None
        if sel.q is not None and total < SUGGEST_BELOW:
            suggestion = suggest(_XapianWords(db, lexicon), analyzers["body"].analyzer,
                                 sel.text, total, unknown_only=total > 0)
        took = (time.perf_counter() - started) * 1000
        return SearchResult(request=req, total=total, hits=tuple(hits), facets=facets,
                            undated=undated, suggestion=suggestion,
                            notes=tuple(dict.fromkeys(sel.notes)), took_ms=round(took, 2),
                            query_text=str(sel.q) if sel.q is not None else "",
                            timed_out=False, stories=stories, partial=opened.partial,
                            missing_shards=tuple(opened.missing))

    @staticmethod
    def _versions(db, docs: list[xapian.Document]) -> dict[str, int]:
        """{story id: its versions} of the stories of ``docs`` that have more than one."""
        shared = {d.get_value(SLOT_SHARED).decode("utf-8") for d in docs} - {""}
        if not shared:
            return {}
        query = _or_terms([story_term(s) for s in sorted(shared)])
        return _Counts(db, query, [SLOT_STORY]).values(SLOT_STORY)

    def _months(self, db, sel: _Request, req: SearchRequest) -> tuple[FacetValue, ...]:
        year = req.year[0]
        counts = _Counts(db, sel.context("dates"), [SLOT_MONTH]).values(SLOT_MONTH)
        chosen = None
        date_from, date_to = req.date_from, req.date_to
        if date_from and date_to and date_from.day == 1 and date_from.year == year \
                and (date_from.year, date_from.month) == (date_to.year, date_to.month) \
                and (date_to + dt.timedelta(days=1)).month != date_to.month:
            chosen = date_from.month
        return tuple(FacetValue(f"{year:04d}-{m:02d}", counts.get(f"{year:04d}-{m:02d}", 0),
                                m == chosen) for m in range(1, 13))

    # -- articles ------------------------------------------------------------------------------

    def _document(self, opened, article_id: str) -> xapian.Document:
        for posting in opened.db.postlist(id_term(article_id)):
            doc = opened.db.get_document(posting.docid)
            if stored(doc)["id"] == article_id:
                return doc
        raise ArticleNotFound(article_id)

    def article(self, article_id: str) -> Article:
        return retrying(self.shards,
                        lambda opened: document_article(self._document(opened, article_id)))

    def export(self, request: SearchRequest, cap: int) -> "_Export":
        """Every article ``request`` selects, in its order, up to ``cap`` (each with its story)."""
        opened = self.shards.open()  # its own connections, held while the export streams
        lexicon = self._lexicon(opened)
        sel = _Request(replace(request, group="none"), lexicon)
        enquire, _ = self._ordered(opened.db, sel, request)
        mset = enquire.get_mset(0, cap, opened.db.get_doccount())
        return _Export(mset.get_matches_estimated(), [item.docid for item in mset], opened)

    def _ordered(self, db, sel: _Request, req: SearchRequest) -> tuple[xapian.Enquire, str]:
        """The match of ``sel`` with every filter, in the request's order, and that order
        ("newest" for relevance without words to rank by)."""
        enquire = xapian.Enquire(db)
        enquire.set_query(sel.context())
        sort = req.effective_sort
        if sort == "relevance" and (sel.q is None or only_exclusions(sel.q)):
            sort = "newest"
        if sort == "newest":
            enquire.set_sort_by_value_then_relevance(SLOT_DAY, True)
        elif sort == "oldest":
            enquire.set_sort_by_value_then_relevance(SLOT_OLDEST, False)
        return enquire, sort

    # -- names -------------------------------------------------------------------------------

    @staticmethod
    def _all_names(lexicon: Lexicon, kind: str) -> tuple[dict[str, int], dict[str, str]]:
        """Every name of ``kind`` in the archive: (articles per key, key -> as written), kept
        in ``lexicon``'s cache while the shards' contents stay the same."""
        cache = lexicon._cache
        key = ("names", kind)
        if key not in cache:
            slot = SLOT_SECTION if kind == "section" else SLOT_NAMES[kind]
            cache[key] = _names(_Counts(lexicon.db, xapian.Query.MatchAll, [slot]).values(slot))
        return cache[key]

    def people_lookup(self, prefix: str, limit: int) -> list[FacetValue]:
        return self.names_lookup("people", prefix, limit)

    def names_lookup(self, kind: str, prefix: str, limit: int) -> list[FacetValue]:
        """As the Whoosh engine's (``search.facets.lookup_names``), over every name of
        ``kind`` (folded once while the shards' contents stay the same)."""
        def work(opened):
            lexicon = self._lexicon(opened)
            cache = lexicon._cache
            if ("lookup", kind) not in cache:
                per_key, display = self._all_names(lexicon, kind)
                cache[("lookup", kind)] = lookup_entries(
                    (display[k], per_key[k]) for k in display)
            return cache[("lookup", kind)]
        entries = retrying(self.shards, work)
        return [FacetValue(name, count, False)
                for name, count in lookup_names(entries, prefix, limit)]

    def cooccurrence(self, name: str, request: SearchRequest | None, size: int) \
            -> tuple[str, int, tuple[FacetValue, ...]]:
        def work(opened):
            lexicon = self._lexicon(opened)
            per_key, display = self._all_names(lexicon, "people")
            k = exact_key(name)
            if k not in per_key:
                raise PersonNotFound(name)
            query = xapian.Query(term(NAME_PREFIX["people"], k))
            if request is not None:
                sel = _Request(request, lexicon)
                query = xapian.Query(xapian.Query.OP_FILTER, sel.context(), query)
            counts = _Counts(opened.db, query, [SLOT_NAMES["people"]])
            keys, shown = _names(counts.values(SLOT_NAMES["people"]))
            keys.pop(k, None)
            return display[k], counts.total, _top(keys, shown, (), size)
        return retrying(self.shards, work)

    def entity(self, kind: str, name: str, size: int = 10, latest: int = 10) -> EntityProfile:
        def work(opened):
            per_key, display = self._all_names(self._lexicon(opened), kind)
            k = exact_key(name)
            if k not in per_key:
                raise EntityNotFound(name)
            shown = display[k]
            query = xapian.Query(term(NAME_PREFIX[kind], k))
            slots = [SLOT_DAY, SLOT_YEAR, SLOT_SECTION, *SLOT_NAMES.values()]
            counts = _Counts(opened.db, query, slots)
            days = sorted(d for d in counts.values(SLOT_DAY) if d)
            years = {int(y): n for y, n in counts.values(SLOT_YEAR).items() if y}
            named = {}
            for other in ENTITY_KINDS:
                keys, spelled = _names(counts.values(SLOT_NAMES[other]))
                if other == kind:
                    keys.pop(k, None)
                named[other] = _top(keys, spelled, (), size)
            sections, spelled = _names(counts.values(SLOT_SECTION))
            enquire = xapian.Enquire(opened.db)
            enquire.set_query(query)
            enquire.set_sort_by_value_then_relevance(SLOT_DAY, True)  # undated last
            newest = []
            for item in enquire.get_mset(0, latest):
                a = document_article(item.document)
                newest.append(RelatedArticle(a.id, a.headline, a.date))
            return EntityProfile(
                kind=kind, name=shown, aliases=tuple(self._aliases_of(opened).spellings_of(
                    kind, shown)), articles=counts.total,
                first_date=slot_day(days[0]) if days else None,
                last_date=slot_day(days[-1]) if days else None,
                years=tuple(FacetValue(y, years[y], False) for y in sorted(years)),
                undated=counts.total - sum(years.values()),
                **named, sections=_top(sections, spelled, (), None)[:size],
                latest=tuple(newest))
        return retrying(self.shards, work)

    def aliases(self) -> Aliases:
        """The archive's aliases file, as its shards keep it (``ingest.py --aliases``)."""
        return retrying(self.shards, self._aliases_of)

    def _aliases_of(self, opened) -> Aliases:
        text = opened.db.get_metadata(ALIASES_KEY).decode("utf-8")
        cached = self._aliases_cache
        if cached is None or cached[0] != text:
            cached = self._aliases_cache = (text, kept_aliases(text))
        return cached[1]

    # -- trends --------------------------------------------------------------------------------

    def trends(self, queries: list[str], request: SearchRequest, interval: str) -> Trends:
        """As the Whoosh engine's: counts per bucket from a match spy on the day of each
        article (one value per distinct day), bucketed here."""
        def work(opened):
            lexicon = self._lexicon(opened)
            base = _Request(replace(request, q=""), lexicon)
            totals_by_day = _Counts(opened.db, base.context(), [SLOT_DAY])
            all_days = _days(totals_by_day.values(SLOT_DAY))

            def extent(chosen: str) -> tuple[int, int] | None:
                found = [bucket_of_date(chosen, d) for d in all_days]
                return (min(found), max(found)) if found else None

            chosen, lo, hi, notes = bucket_range(interval, request.date_from, request.date_to,
                                                 extent)

            def per_bucket(by_day: dict[dt.date, int]) -> list[int]:
                out = [0] * max(0, hi - lo + 1)
                for d, n in by_day.items():
                    b = bucket_of_date(chosen, d)
                    if lo <= b <= hi:
                        out[b - lo] += n
                return out

            totals = per_bucket(all_days)
            bounds = clipped_bounds(chosen, lo, hi, request.date_from, request.date_to)
            series = []
            for q in queries or [""]:
                sel = _Request(replace(request, q=q), lexicon)
                counted = _Counts(opened.db, sel.context(), [SLOT_DAY])
                by_day = _days(counted.values(SLOT_DAY))
                points = tuple(Point(label, first, last, c, t) for (label, first, last), c, t
                               in zip(bounds, per_bucket(by_day), totals))
                series.append(Series(q, points, counted.total - sum(by_day.values()),
                                     tuple(sel.notes)))
            return Trends(chosen, tuple(series),
                          totals_by_day.total - sum(all_days.values()), tuple(notes))
        return retrying(self.shards, work)

    # -- keyword in context --------------------------------------------------------------------

    def kwic(self, request: SearchRequest, sort: str = "order",
             limit: int = kwic.DEFAULT_LINES) -> kwic.Kwic:
        """As the Whoosh engine's (``search.engines.whoosh.research.run_kwic``): the shared
        line rules over the articles in the search's order, read from the shards until
        ``limit`` lines are found."""
        def work(opened):
            lexicon = self._lexicon(opened)
            req = replace(request, group="none")
            sel = _Request(req, lexicon)
            notes = list(dict.fromkeys(sel.notes))
            want = kwic.wanted(sel.q, lexicon)
            if sel.q is not None and not want:
                notes.append("the query has no words to show in context (only names, dates "
                             "or words left out)")
            analyzers = {f: _schema()[f].analyzer for f in kwic.FIELDS}
            enquire, _ = self._ordered(opened.db, sel, req)
            total = _count(opened.db, sel.context())

            def articles(start: int, count: int):
                for item in enquire.get_mset(start, count):
                    a = document_article(item.document)
                    yield (a.id, a.date.isoformat() if a.date else None, a.headline,
                           {"headline": a.headline, "body": a.body})

            lines, read, more = kwic.collect_lines(articles, total, want, analyzers, limit)
            return kwic.Kwic(total, read, tuple(kwic.sort_lines(lines, sort)), more,
                             tuple(notes))
        return retrying(self.shards, work)

    # -- what stands out -----------------------------------------------------------------------

    def significant(self, request: SearchRequest, size: int = sig.DEFAULT_SIZE) \
            -> sig.Significant:
        """As the Whoosh engine's (``search.engines.whoosh.research.run_significant``): names
        counted exactly over every matching article (match spies against the archive's
        counts); words estimated from up to ``SAMPLE`` matching articles against a
        ``BACKGROUND`` sample of the archive, the best counted exactly (a count of matches per
        word)."""
        def work(opened):
            db = opened.db
            lexicon = self._lexicon(opened)
            sel = _Request(replace(request, group="none"), lexicon)
            final = sel.context()
            counts = _Counts(db, final, list(SLOT_NAMES.values()))
            fg_total, bg_total = counts.total, db.get_doccount()
            notes = list(dict.fromkeys(sel.notes))
            min_count = 2 if fg_total < 20 else 3
            kinds: dict = {kind: () for kind in sig.KINDS}
            if fg_total == 0 or fg_total == bg_total:
                if fg_total:
                    notes.append("the search matches every article: nothing stands out "
                                 "against the archive; add a query or a filter")
                return sig.Significant(fg_total, bg_total, kinds, 0, tuple(notes))
            chosen = {"people": request.person, "organizations": request.organization,
                      "places": request.place}
            for kind in ("people", "organizations", "places"):
                fg, shown = _names(counts.values(SLOT_NAMES[kind]))
                for value in chosen[kind]:  # a filter's own names are in every article
                    fg.pop(exact_key(value), None)
                keys = [k for k, n in fg.items() if n >= min_count]
                bg_counts = self._all_names(lexicon, kind)[0]
                scores = sig.jlh(np.array([fg[k] for k in keys], dtype=float), fg_total,
                                 np.array([bg_counts.get(k, 1) for k in keys], dtype=float),
                                 bg_total) if keys else np.zeros(0)
                order = sorted(range(len(keys)), key=lambda i: (-scores[i], shown[keys[i]]))
                kinds[kind] = tuple(sig.Term(shown[keys[i]], fg[keys[i]],
                                             bg_counts.get(keys[i], 0), float(scores[i]))
                                    for i in order[:size] if scores[i] > 0)
            words, sampled = self._significant_words(opened, lexicon, sel, final, fg_total,
                                                     bg_total, size, min_count)
            kinds["words"] = words
            return sig.Significant(fg_total, bg_total, kinds, sampled, tuple(notes))
        return retrying(self.shards, work)

    def _significant_words(self, opened, lexicon, sel, final, fg_total, bg_total, size,
                           min_count):
        db = opened.db
        form, findall = word_former(_schema()["body"].analyzer), plain_pattern(
            word_pattern(_schema()["body"].analyzer).pattern).findall

        def read(docids) -> Counter:
            found: Counter = Counter()
            for docid in docids:
                a = document_article(db.get_document(docid))
                found.update(sig._article_words({"headline": a.headline, "body": a.body},
                                                findall))
            return found

        def spread(query, n: int) -> list[int]:
            enquire = xapian.Enquire(db)
            enquire.set_query(query)
            enquire.set_weighting_scheme(xapian.BoolWeight())
            enquire.set_docid_order(xapian.Enquire.ASCENDING)
            docids = [item.docid for item in enquire.get_mset(0, db.get_doccount())]
            if len(docids) > n:
                docids = [docids[int(i)] for i in np.linspace(0, len(docids) - 1, n)]
            return docids

        sample = spread(final, sig.SAMPLE)
        own = frozenset().union(*positive_terms(sel.q, lexicon).values()) \
            if sel.q is not None else frozenset()
        floor = min_count if len(sample) == fg_total else max(2, -(-len(sample) * 2 // 100))
        in_sample, written = sig._by_term(read(sample), form, own, least=floor)
        candidates = list(in_sample)
        if not candidates:
            return (), len(sample)
        cache = lexicon._cache
        if "significant-background" not in cache:
            picked = spread(xapian.Query.MatchAll, sig.BACKGROUND)
            cache["significant-background"] = (len(picked),
                                               sig._by_term(read(picked), form)[0])
        bg_n, bg_counts = cache["significant-background"]
        est_fg = np.array([in_sample[t] for t in candidates], dtype=np.float64)
        est_bg = np.array([bg_counts.get(t, 1) for t in candidates], dtype=np.float64)
        estimate = sig.jlh(est_fg / len(sample), 1, est_bg / max(bg_n, 1), 1)
        order = np.argsort(-estimate, kind="stable")[:size + sig.CANDIDATES]

        found = []
        for at in order.tolist():
            word = candidates[at]
            holding = xapian.Query(xapian.Query.OP_OR,
                                   [xapian.Query(term(TEXT_PREFIX[f], word))
                                    for f in ("headline", "body")])
            fg = _count(db, xapian.Query(xapian.Query.OP_FILTER, final, holding))
            if fg < min_count:
                continue
            bg = _count(db, holding)
            score = float(sig.jlh(np.array([fg]), fg_total, np.array([bg]), bg_total)[0])
            if score > 0:
                found.append(sig.Term(written[word], fg, bg, score))
        found.sort(key=lambda t: (-t.score, t.term))
        return tuple(found[:size]), len(sample)

    # -- one article ---------------------------------------------------------------------------

    @staticmethod
    def _members(opened, story_id: str) -> list[xapian.Document]:
        enquire = xapian.Enquire(opened.db)
        enquire.set_weighting_scheme(xapian.BoolWeight())
        enquire.set_query(xapian.Query(story_term(story_id)))
        mset = enquire.get_mset(0, max(1, opened.db.get_doccount()))
        mset.fetch()
        return [item.document for item in mset
                if document_story(item.document)[0] == story_id]

    def story(self, article_id: str) -> Story:
        """The story of the article ``article_id``: every version, the lead first, then by
        date and id."""
        def work(opened):
            doc = self._document(opened, article_id)
            story_id = document_story(doc)[0]
            members = self._members(opened, story_id) if story_id else [doc]
            return _story(story_id or article_id, members or [doc])
        return retrying(self.shards, work)

    def story_versions(self, story_id: str) -> tuple[Story, dict[str, Article]]:
        """The story ``story_id`` (its lead's article id) and its versions' articles."""
        def work(opened):
            members = self._members(opened, story_id)
            if not members:
                # an article written before stories were kept is a story of its own
                try:
                    doc = self._document(opened, story_id)
                except ArticleNotFound:
                    raise StoryNotFound(story_id) from None
                if document_story(doc)[0]:
                    raise StoryNotFound(story_id)
                members = [doc]
            return _story(story_id, members), {a.id: a for a in map(document_article, members)}
        return retrying(self.shards, work)

    def related(self, article_id: str, count: int = 5) -> list[RelatedArticle]:
        """Articles most like this one: Xapian's more-like-this (the article's key body and
        headline words, from an expand set) OR the names it holds."""
        def work(opened):
            doc = self._document(opened, article_id)
            rset = xapian.RSet()
            rset.add_document(doc.get_docid())
            enquire = xapian.Enquire(opened.db)
            enquire.set_query(xapian.Query(id_term(article_id)))
            words = TEXT_PREFIX["body"], TEXT_PREFIX["headline"]

            class Words(xapian.ExpandDecider):
                def __call__(self, t):
                    return t.decode("utf-8", "replace").startswith(words)

            eset = enquire.get_eset(12, rset, Words())
            parts = [xapian.Query(item.term) for item in eset]
            for t in doc.termlist():
                text = t.term.decode("utf-8", "replace")
                if text.startswith(("XP", "XO", "XL")):
                    parts.append(xapian.Query(text))
            if not parts:
                return []
            # other versions of its own story are not related articles: they are the same
            story_id = document_story(doc)[0]
            query = xapian.Query(xapian.Query.OP_AND_NOT,
                                 xapian.Query(xapian.Query.OP_OR, parts),
                                 _or_terms([id_term(article_id)]
                                           + ([story_term(story_id)] if story_id else [])))
            enquire.set_query(query)
            out = []
            for item in enquire.get_mset(0, count):
                a = document_article(item.document)
                out.append(RelatedArticle(a.id, a.headline, a.date))
            return out
        return retrying(self.shards, work)

    def highlight_article(self, article: Article, q: str, part: int = 1) \
            -> tuple[str, list[str], int]:
        terms: dict = {}
        if q.strip():
            def work(opened):
                lexicon = self._lexicon(opened)
                query = parse_query(clean_query_text(q, []), lexicon.schema, lexicon, [],
                                    lexicon.words)
                return positive_terms(query, lexicon)
            terms = retrying(self.shards, work)
        return highlighted_article(article.headline, article.body, terms,
                                   {f: _schema()[f].analyzer for f in ("headline", "body")},
                                   part)

    def stats(self) -> dict:
        def work(opened):
            counts = _Counts(opened.db, xapian.Query.MatchAll, [SLOT_DAY])
            by_day = _days(counts.values(SLOT_DAY))
            dated = sum(by_day.values())
            out = {"articles": counts.total, "dated": dated, "undated": counts.total - dated,
                   "first_date": min(by_day).isoformat() if by_day else None,
                   "last_date": max(by_day).isoformat() if by_day else None}
            lexicon = self._lexicon(opened)
            for kind in ("people", "organizations", "places"):
                out[kind] = len(self._all_names(lexicon, kind)[0])
            out["sections"] = len(self._all_names(lexicon, "section")[0])
            # the last write of the first shard (a combined database reads its metadata)
            out.update(last_ingest=_metadata(opened.db, "last_ingest") or None,
                       index_format=None, engine="xapian",
                       shards=len(self.shards.shards), missing_shards=list(opened.missing))
            return out
        return retrying(self.shards, work)


class _XapianWords:
    """What ``search.query.suggest`` reads of the shards: the headline and body words, kept
    by first letter while the shards' contents stay the same."""

    FIELDS = ("headline", "body")

    def __init__(self, db, lexicon: Lexicon):
        self.db, self.lexicon = db, lexicon

    def frequency(self, stem: str) -> int:
        return sum(self.lexicon.frequency(field, stem) for field in self.FIELDS)

    def words(self, first: str) -> list[str]:
        cache = self.lexicon._cache
        if "by_letter" not in cache:
            by_letter: dict[str, list[str]] = {}
            for word in sorted({w for f in self.FIELDS for w in self.lexicon.words(f)}):
                if word and word[0].isalpha():
                    by_letter.setdefault(word[0], []).append(word)
            cache["by_letter"] = by_letter
        return cache["by_letter"].get(first, [])

    def texts_with(self, stem: str, articles: int):
        for field in self.FIELDS:
            prefix = TEXT_PREFIX[field]
            for i, posting in enumerate(self.db.postlist(term(prefix, stem))):
                if i == articles:
                    break
                yield field, getattr(document_article(self.db.get_document(posting.docid)),
                                     field)

    def count(self, text: str) -> int | None:
        q = parse_query(text, self.lexicon.schema, self.lexicon, [], self.lexicon.words)
        if q is None:
            return None
        return _count(self.db, compile_query(q, self.lexicon))


def _metadata(db, key: str) -> str:
    value = db.get_metadata(key)
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _days(counts: dict[str, int]) -> dict[dt.date, int]:
    return {slot_day(d): n for d, n in counts.items() if d}


def _story(story_id: str, members: list[xapian.Document]) -> Story:
    versions = []
    for doc in members:
        article = document_article(doc)
        containment, jaccard = document_story(doc)[1] or (1.0, 1.0)
        versions.append(StoryVersion(article.id, article.headline, article.date,
                                     article.source, containment, jaccard))
    versions.sort(key=lambda v: (v.date is None, v.date or dt.date.min, v.id))
    return Story(story_id, versions[0].id, tuple(versions))


class _Export:
    """The articles of an export, read one by one, each with its story's id."""

    def __init__(self, total: int, docids: list[int], opened):
        self.total = total
        self.docs = docids
        self.truncated = total > len(docids)
        self._opened = opened

    def __len__(self) -> int:
        return len(self.docs)

    def __iter__(self) -> Iterator[tuple[Article, str]]:
        for docid in self.docs:
            doc = self._opened.db.get_document(docid)
            article = document_article(doc)
            yield article, document_story(doc)[0] or article.id

    def close(self) -> None:
        self._opened.db.close()
