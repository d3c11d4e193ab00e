"""The Whoosh engine's matching: a request's matches, ranking and page with numpy over the
index's postings and facet arrays (``run_search(searcher, facets, request)``).

The query comes parsed by the shared ``search.query.parse_query``; here each of its leaves is
evaluated on the index: words and prefixes from their postings, phrases and the proximity and
exact-word operators (``search.operators``) from their positions, dates from the facet arrays.
Relevance is BM25F with the headline weighted above the body (``search.schema.HEADLINE_BOOST``).
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np
from whoosh import query as wq

from search import operators as ops
from search.engines.whoosh.facets import FacetData
from search.engines.whoosh.postings import (avg_field_length, bm25, decode_positions,
                                            has_positions, idf, segment_positions)
from search.errors import SearchTimeout, past
from search.highlight import highlight_whole, snippet
from search.models import (FacetValue, Hit, SearchRequest, SearchResult, StoryRef, Suggestion)
from search.operators import _TOKEN, Exact, Near
from search.query import (_NO_DEADLINE, DEFAULT_TIME_LIMIT, SUGGEST_BELOW, date_to_day,
                          only_exclusions, parse_query, positive_terms, request_text,
                          safe_source_url, suggest)
from search.schema import ArrayPositions, doc_to_article


def matched_mask(q: wq.Query, searcher, facets: FacetData,
                 deadline: float = _NO_DEADLINE) -> np.ndarray:
    """The documents ``q`` matches, as a boolean mask, without scoring anything.

    Terms, prefixes and boolean structure are evaluated with numpy over cached per-term document
    arrays; what needs positions (phrases) or is unusual goes to Whoosh's own matcher.
    ``SearchTimeout`` as soon as ``deadline`` passes (checked between terms, between a
    prefix's words and every 64 documents of Whoosh's matcher).
    """
    past(deadline)
    if isinstance(q, wq.Term):
        return _mask_of(facets.term_docs(q.fieldname, q.text), facets.maxdoc)
    if isinstance(q, (wq.Prefix, wq.Wildcard)):
        mask = np.zeros(facets.maxdoc, dtype=bool)
        reader = searcher.reader()
        for i, text in enumerate(q._btexts(reader)):  # the expansions (bounded by _check)
            if i % 16 == 15:
                past(deadline)
            term = text.decode("utf-8") if isinstance(text, bytes) else text
            mask[facets.term_docs(q.fieldname, term)] = True
        return mask
    if isinstance(q, wq.And):
        mask = facets.live.copy()
        for sub in q.subqueries:
            mask &= matched_mask(sub, searcher, facets, deadline)
        return mask
    if isinstance(q, wq.Or) and not q.minmatch:
        mask = np.zeros(facets.maxdoc, dtype=bool)
        for sub in q.subqueries:
            mask |= matched_mask(sub, searcher, facets, deadline)
        return mask
    if isinstance(q, wq.Not):
        return facets.live & ~matched_mask(q.query, searcher, facets, deadline)
    if isinstance(q, wq.AndMaybe):
        return matched_mask(q.a, searcher, facets, deadline)
    if isinstance(q, wq.Every) and not q.fieldname:
        return facets.live.copy()
    if q is wq.NullQuery:
        return np.zeros(facets.maxdoc, dtype=bool)
    if isinstance(q, ops.DateRange):
        return facets.date_mask(date_to_day(q.first) if q.first else None,
                                date_to_day(q.last) if q.last else None)
    if isinstance(q, (ops.Near, ops.Exact)):
        evaluate = near_docs if isinstance(q, ops.Near) else exact_docs
        docs = facets.cached(("operator", repr(q)),
                             lambda: evaluate(q, searcher, facets, deadline))
        return _mask_of(docs, facets.maxdoc)

    if isinstance(q, wq.Phrase) and q.slop == 1 and len(q.words) > 1 \
            and has_positions(searcher.reader(), q.fieldname):
        docs = facets.cached(("phrase", q.fieldname, tuple(q.words)),
                             lambda: _phrase_docs(q, searcher, facets, deadline))
        return _mask_of(docs, facets.maxdoc)

    # phrases and the rest: Whoosh's matcher, cached per index version (a search stopped by
    # its deadline caches nothing)
    def run() -> np.ndarray:
        found = []
        for i, doc in enumerate(searcher.docs_for_query(q)):
            if i % 64 == 63:
                past(deadline)
            found.append(doc)
        return np.array(found, dtype=np.int32)

    docs = facets.cached(("query", repr(q)), run)
    return _mask_of(docs, facets.maxdoc)


def _mask_of(docs: np.ndarray, maxdoc: int) -> np.ndarray:
    """The boolean mask of the document numbers ``docs``."""
    mask = np.zeros(maxdoc, dtype=bool)
    mask[docs] = True
    return mask


def _phrase_docs(q: wq.Phrase, searcher, facets: FacetData, deadline: float) -> np.ndarray:
    """The live documents holding ``q``'s words one after another, from the positions the side
    files keep: the documents holding every word are found with numpy, then only their
    positions are read (Whoosh's phrase matcher reads every posting block of the words in
    Python: 171 ms for a first-seen two-word phrase at 200,000 articles)."""
    found: list[np.ndarray] = []
    checked = 0
    arrays = isinstance(searcher.schema[q.fieldname].format, ArrayPositions)
    for sub, offset in searcher.reader().leaf_readers():
        terms = [segment_positions(sub, q.fieldname, w) for w in q.words]
        if any(not t for t in terms):
            continue  # a word not in this segment
        candidates = terms[0][0]
        for t in sorted(terms[1:], key=lambda t: len(t[0])):
            candidates = candidates[_within(candidates, t[0])]
            if not len(candidates):
                break
        live = facets.live[candidates.astype(np.int64) + offset]
        candidates = candidates[live]
        at = [np.searchsorted(t[0], candidates) for t in terms]
        if arrays:  # positions as uint32 (index format 3): every candidate at once
            past(deadline)
            kept = candidates[_phrase_rows(terms, at)]
            if len(kept):
                found.append(kept.astype(np.int64) + offset)
            continue
        kept = []
        for j, doc in enumerate(candidates.tolist()):
            checked += 1
            if checked % 64 == 0:
                past(deadline)
            # positions where the phrase could start: the first word's, less every one the
            # i-th word does not follow at i
            starts = set(decode_positions(terms[0][2], terms[0][1], int(at[0][j])))
            for i in range(1, len(terms)):
                following = decode_positions(terms[i][2], terms[i][1], int(at[i][j]))
                starts &= {p - i for p in following}
                if not starts:
                    break
            if starts:
                kept.append(doc)
        if kept:
            found.append(np.array(kept, dtype=np.int64) + offset)
    return np.concatenate(found).astype(np.int32) if found else np.zeros(0, dtype=np.int32)


_ROW = 1 << 33  # a key is row * _ROW + position - word index + 2**32 (never negative)


def _phrase_rows(terms, at: list[np.ndarray]) -> np.ndarray:
    """Which candidates (rows of ``at``) hold the words one after another: each word's
    positions in every candidate, read as one uint32 array, keyed by (candidate, position less
    the word's place in the phrase); a phrase starts where every word has the same key."""
    keys = None
    for i, ((_, offsets, values), rows) in enumerate(zip(terms, at)):
        words = np.frombuffer(values, dtype="<u4")
        offsets = offsets.astype(np.int64)
        first = offsets[rows] // 4 + 1  # each value: its count, then its positions
        lengths = offsets[rows + 1] // 4 - first
        total = int(lengths.sum())
        at_word = np.arange(total) + np.repeat(first - (np.cumsum(lengths) - lengths), lengths)
        row = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        mine = row * _ROW + words[at_word].astype(np.int64) - i + (1 << 32)
        keys = mine if keys is None else keys[_within(keys, mine)]
        if not len(keys):
            break
    rows = keys // _ROW  # in order, as the keys are
    return rows[np.r_[True, rows[1:] != rows[:-1]]] if len(rows) else rows


def _within(values: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """Which of ``values`` are in ``sorted_values`` (ascending): ``np.isin`` without sorting
    what is sorted already (document numbers of a posting list; phrase keys, which grow with
    the candidate and the position)."""
    if not len(sorted_values):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_values, values)
    np.minimum(at, len(sorted_values) - 1, out=at)
    return sorted_values[at] == values


def _in(docs: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate, whether it is in the sorted ``docs``, and its position there."""
    pos = np.searchsorted(docs, candidates)
    found = pos < len(docs)
    found[found] = docs[pos[found]] == candidates[found]
    return found, pos


def _term_scores(field: str, text, boost: float, searcher, facets: FacetData,
                 docs: np.ndarray) -> np.ndarray:
    """Whoosh's score of one term for each of ``docs`` (0 where it does not occur)."""
    out = np.zeros(len(docs))
    _add_term_scores(out, field, text, boost, searcher, facets, docs)
    return out


def _add_term_scores(out: np.ndarray, field: str, text, boost: float, searcher,
                     facets: FacetData, docs: np.ndarray) -> None:
    """Add one term's scores to ``out`` (one value per document of the sorted ``docs``),
    looking up whichever of the two lists is shorter in the other (a prefix's rare
    expansions against hundreds of thousands of matched documents)."""
    if field not in searcher.schema or not len(docs):
        return
    postings, weights = facets.term_postings(field, text)
    if not len(postings):
        return
    if len(postings) < len(docs):
        pos = np.searchsorted(docs, postings)
        hit = pos < len(docs)
        hit[hit] = docs[pos[hit]] == postings[hit]
        at, w = pos[hit], weights[hit]
    else:
        found, pos = _in(postings, docs)
        at, w = np.flatnonzero(found), weights[pos[found]]
    if not len(at):
        return
    w = w.astype(np.float64)
    if searcher.schema[field].scorable:
        reader = searcher.reader()
        lengths = facets.lengths(field)[docs[at]].astype(np.float64)
        w = bm25(w, lengths, idf(reader, field, text, len(postings)),
                 avg_field_length(reader, field))
    out[at] += w * boost  # a term has one posting per document: no index repeats


def rank_scores(q: wq.Query, searcher, facets: FacetData, docs: np.ndarray,
                deadline: float) -> tuple[np.ndarray, bool]:
    """The relevance score of each of ``docs`` (documents ``q`` matches), as Whoosh's BM25F
    computes it, in numpy: a compound query adds the scores of its parts that match, a phrase
    the scores of its words, a prefix or wildcard the scores of the words it expands to, a NOT
    part its boost.

    Each term is scored over all of ``docs`` at once. If ``deadline`` (a ``perf_counter`` time)
    passes, the terms not yet scored are left out and the second value is True.
    """
    stopped = False
    zero = np.zeros(len(docs))

    def mask_of(node) -> np.ndarray:
        nonlocal stopped
        try:
            return matched_mask(node, searcher, facets, deadline)[docs]
        except SearchTimeout:
            stopped = True
            return np.zeros(len(docs), dtype=bool)

    def matching(node) -> np.ndarray:
        # a term scores 0 where it does not occur, so only compound parts need their mask
        if isinstance(node, wq.Term):
            return score(node, 1.0)
        return score(node, 1.0) * mask_of(node)

    def score(node, boost: float) -> np.ndarray:
        nonlocal stopped
        boost *= node.boost
        if stopped:
            return zero
        if isinstance(node, wq.Not):  # Whoosh counts an excluded part as its boost
            return np.full(len(docs), boost)
        if time.perf_counter() > deadline:
            stopped = True
            return zero
        if isinstance(node, wq.Term):
            return _term_scores(node.fieldname, node.text, boost, searcher, facets, docs)
        if isinstance(node, ops.Exact):  # as its stem would, where the word is
            return _term_scores(node.fieldname, node.stem, boost, searcher, facets, docs) \
                * mask_of(node)
        if isinstance(node, (wq.Phrase, ops.Near)):
            words = np.zeros(len(docs))
            for w in node.words:
                _add_term_scores(words, node.fieldname, w, boost, searcher, facets, docs)
            return words * mask_of(node)
        if isinstance(node, wq.And):  # every part matches every one of docs
            return sum((score(sub, boost) for sub in node.subqueries), zero)
        if isinstance(node, wq.Or):
            return sum((matching(sub) * boost for sub in node.subqueries), zero)
        if isinstance(node, (wq.AndMaybe, wq.AndNot)):
            optional = matching(node.b) * boost if isinstance(node, wq.AndMaybe) else zero
            return score(node.a, boost) + optional
        if isinstance(node, wq.MultiTerm):
            # a prefix or wildcard scores as the OR of the words it expands to (whoosh3 3.54
            # scores the words even when ``constantscore`` is set)
            total = np.zeros(len(docs))
            for t in node._btexts(searcher.reader()):
                if time.perf_counter() > deadline:  # the words scored so far count
                    stopped = True
                    break
                _add_term_scores(total, node.fieldname,
                                 t.decode("utf-8") if isinstance(t, bytes) else t, boost,
                                 searcher, facets, docs)
            return total
        # the rest: a constant for the documents they match
        return mask_of(node) * boost

    scores = score(q, 1.0)
    return scores, stopped


class Selection:
    """The documents a request selects: its parsed query, the match mask and each filter's
    mask, kept apart so that each facet can leave out its own filter."""

    def __init__(self, searcher, facets: FacetData, req: SearchRequest, deadline: float,
                 time_limit: float):
        self.req = req
        self.notes: list[str] = []
        self.text = request_text(req, self.notes)
        self.q = parse_query(self.text, searcher.schema, searcher.reader(), self.notes,
                             facets.lexicon)
        try:
            self.matched = facets.live if self.q is None else \
                matched_mask(self.q, searcher, facets, deadline) & facets.live
            past(deadline)
        except SearchTimeout:
            raise SearchTimeout(f"the search took longer than {time_limit:g}s; "
                                "make it more specific") from None
        self.filters = {
            "person": facets.person_mask(req.person, req.person_match == "all")
            if req.person else None,
            "organization": facets.organizations.mask_for(req.organization, facets.maxdoc)
            if req.organization else None,
            "place": facets.places.mask_for(req.place, facets.maxdoc) if req.place else None,
            "section": facets.section_mask(req.section) if req.section else None,
            "year": facets.year_mask(req.year) if req.year else None,
            "dates": facets.date_mask(date_to_day(req.date_from) if req.date_from else None,
                                      date_to_day(req.date_to) if req.date_to else None)
            if (req.date_from or req.date_to) else None,
        }
        self.final = self.context()
        self.docs = np.flatnonzero(self.final)

    def context(self, *skip: str) -> np.ndarray:
        """The matched documents with every filter applied but those named in ``skip``."""
        mask = self.matched
        for name, f in self.filters.items():
            if f is not None and name not in skip:
                mask = mask & f
        return mask


def ordered(sel: Selection, searcher, facets: FacetData, start: int, count: int,
            deadline: float) -> tuple[list[tuple[int, float | None]], bool]:
    """Documents ``start`` to ``start + count`` of ``sel`` in the request's order, with their
    scores when ranked by relevance; True as well when ranking stopped at ``deadline``."""
    docs = sel.docs
    sort = sel.req.effective_sort
    # grouped: the first version of each story in this order, its best-ranked match
    first = partial(first_distinct, groups=facets.story[docs]) if sel.req.grouped \
        else first_of
    if sort == "relevance" and only_exclusions(sel.q):
        sort = "newest"  # "-oil": nothing to rank by; every article without it, newest first
    if sel.q is not None and sort == "relevance":
        scores, timed_out = rank_scores(sel.q, searcher, facets, docs, deadline)
        # best first; equal scores in index order, as Whoosh's collector does
        order = first(-scores, start + count)[start:]
        return [(int(docs[i]), float(scores[i])) for i in order], timed_out
    days = facets.day[docs]
    undated_key = np.iinfo(np.int64).max
    key = np.where(facets.dated[docs], -days if sort == "newest" else days, undated_key)
    order = first(key, start + count)[start:]
    return [(int(docs[i]), None) for i in order], False


def first_distinct(key: np.ndarray, k: int, groups: np.ndarray) -> np.ndarray:
    """The positions of the first ``k`` values of ``key`` in ``first_of`` order that each
    begin a group (``groups``: a group number per position): the best of each group, best
    groups first. A prefix of the order holds the same first members of its groups as the
    whole order, so the prefix read grows until it holds ``k`` groups."""
    n = max(k, 1) * 2
    while True:
        order = first_of(key, n)
        _, at = np.unique(groups[order], return_index=True)
        firsts = order[np.sort(at)]
        if len(firsts) >= k or n >= len(key):
            return firsts[:k]
        n *= 4


def first_of(key: np.ndarray, k: int) -> np.ndarray:
    """The positions of the ``k`` smallest values of ``key``, smallest first, equal values in
    position order: ``np.argsort(key, kind="stable")[:k]`` without sorting all of ``key``
    (a page needs 10 of up to hundreds of thousands of matches)."""
    if k >= len(key) or len(key) <= 1024:
        return np.argsort(key, kind="stable")[:k]
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    kth = np.partition(key, k - 1)[k - 1]
    # every value up to the k-th, ties included, so that ties keep their position order
    candidates = np.flatnonzero(key <= kth)
    return candidates[np.argsort(key[candidates], kind="stable")][:k]


def run_search(searcher, facets: FacetData, req: SearchRequest,
               time_limit: float = DEFAULT_TIME_LIMIT) -> SearchResult:
    """Run ``req``. If finding the matching documents takes longer than ``time_limit`` seconds,
    ``SearchTimeout``; if ranking them does, hits ranked by the terms scored in time, with
    ``timed_out``."""
    started = time.perf_counter()
    deadline = started + time_limit
    sel = Selection(searcher, facets, req, deadline, time_limit)
    total = len(sel.docs)
    stories = facets.stories_among(sel.docs)
    year_values, undated = facets.year_facet(sel.context("year"), req.year)
    # multi-select: a person's count is what ticking them would add ("any"), or leave ("all")
    people_ctx = sel.final if req.person_match == "all" else sel.context("person")
    facet_values: dict[str, tuple[FacetValue, ...]] = {
        "people": facets.people_facet(people_ctx, req.person, req.facet_size),
        "organizations": facets.names_facet(facets.organizations, sel.context("organization"),
                                            req.organization, req.facet_size),
        "places": facets.names_facet(facets.places, sel.context("place"), req.place,
                                     req.facet_size),
        "section": facets.section_facet(sel.context("section"), req.section),
        "year": year_values,
        # the months of a single selected year, over every filter but the date range
        "month": facets.month_facet(sel.context("dates"), req.year[0], req.date_from,
                                    req.date_to) if len(req.year) == 1 else (),
    }
    page_docs, timed_out = ordered(sel, searcher, facets, (req.page - 1) * req.per_page,
                                   req.per_page, deadline)
    last_page = max(1, -(-(stories if req.grouped else total) // req.per_page))
    if req.page > last_page:
        sel.notes.append(f"there is no page {req.page}: this search has {last_page} "
                         f"page{'s' if last_page != 1 else ''}")
    # past the deadline, the page is finished without marks and without a suggestion
    in_time = time.perf_counter() < deadline
    terms = positive_terms(sel.q, searcher.reader()) if in_time else {}
    hits = tuple(make_hit(searcher, docnum, score, terms, facets)
                 for docnum, score in page_docs)
    # a query that found its hits gets no "did you mean", unless a word of it is not in the
    # archive at all (one side of an OR)
    suggestion = None
    if sel.q is not None and total < SUGGEST_BELOW and time.perf_counter() < deadline:
        try:
            suggestion = _suggest(searcher, facets, sel.text, total, unknown_only=total > 0,
                                  deadline=deadline)
        except SearchTimeout:
            suggestion = None
    took = (time.perf_counter() - started) * 1000
    return SearchResult(request=req, total=total, hits=hits, facets=facet_values,
                        undated=undated, suggestion=suggestion,
                        notes=tuple(dict.fromkeys(sel.notes)),
                        took_ms=round(took, 2),
                        query_text=str(sel.q) if sel.q is not None else "",
                        timed_out=timed_out, stories=stories)


def make_hit(searcher, docnum: int, score: float | None, terms: dict,
             facets: FacetData | None = None) -> Hit:
    article = doc_to_article(searcher.stored_fields(docnum))
    schema = searcher.schema
    story = None
    if facets is not None:
        number = facets.story[docnum]
        story_id = facets.story_ids[number] if facets.story_ids is not None else None
        story = StoryRef(story_id or article.id, int(facets.story_versions[number]))
    return Hit(
        id=article.id,
        headline=article.headline,
        headline_html=highlight_whole(article.headline, terms.get("headline", frozenset()),
                                      schema["headline"].analyzer),
        snippet_html=snippet(article.body, terms.get("body", frozenset()),
                             schema["body"].analyzer),
        date=article.date,
        people=article.people,
        organizations=article.organizations,
        places=article.places,
        section=article.section,
        source_url=safe_source_url(article.url),
        score=round(score, 4) if score is not None else None,
        story=story,
    )


class _WhooshWords:
    """What ``suggest`` reads of a Whoosh index."""

    def __init__(self, searcher, facets: FacetData, deadline: float):
        self.searcher, self.facets, self.deadline = searcher, facets, deadline
        self.reader = searcher.reader()

    def frequency(self, stem: str) -> int:
        return sum(self.reader.doc_frequency(field, stem) for field in FacetData.WORD_FIELDS)

    def words(self, first: str) -> list[str]:
        return self.facets.words(first)

    def texts_with(self, stem: str, articles: int):
        """(field, text) of the first few articles holding ``stem``, field by field."""
        for field in FacetData.WORD_FIELDS:
            for docnum in self.facets.term_docs(field, stem)[:articles].tolist():
                yield field, self.searcher.stored_fields(docnum).get(field) or ""

    def count(self, text: str) -> int | None:
        """Articles the query ``text`` finds (None: nothing searchable)."""
        query = parse_query(text, self.searcher.schema, self.reader, [], self.facets.lexicon)
        if query is None:
            return None
        return int(np.count_nonzero(matched_mask(query, self.searcher, self.facets,
                                                 self.deadline) & self.facets.live))


def _suggest(searcher, facets: FacetData, text: str, total: int,
             unknown_only: bool = False, deadline: float = _NO_DEADLINE) -> Suggestion | None:
    return suggest(_WhooshWords(searcher, facets, deadline), searcher.schema["body"].analyzer,
                   text, total, unknown_only, deadline)


def near_docs(q: Near, searcher, facets, deadline: float) -> np.ndarray:
    """The live documents holding ``q``'s words within ``q.distance`` words of each other."""
    reader = searcher.reader()
    if not has_positions(reader, q.fieldname):
        # an index without positions of its own: Whoosh's span query (ordered or not)
        from whoosh.query.spans import SpanNear2

        spans = SpanNear2([wq.Term(q.fieldname, w) for w in q.words], slop=q.distance,
                          ordered=False)
        return np.array(list(searcher.docs_for_query(spans)), dtype=np.int32)
    arrays = isinstance(searcher.schema[q.fieldname].format, ArrayPositions)
    found: list[np.ndarray] = []
    checked = 0
    for sub, offset in reader.leaf_readers():
        terms = [segment_positions(sub, q.fieldname, w) for w in q.words]
        if any(not t for t in terms):
            continue
        candidates = terms[0][0]
        for t in terms[1:]:
            candidates = candidates[np.isin(candidates, t[0], assume_unique=True)]
        candidates = candidates[facets.live[candidates.astype(np.int64) + offset]]
        at = [np.searchsorted(t[0], candidates) for t in terms]
        kept = []
        for j, doc in enumerate(candidates.tolist()):
            checked += 1
            if checked % 64 == 0:
                past(deadline)
            lists = [_positions(t, int(rows[j]), arrays) for t, rows in zip(terms, at)]
            if _within_window(lists, q.distance):
                kept.append(doc)
        if kept:
            found.append(np.array(kept, dtype=np.int64) + offset)
    return np.concatenate(found).astype(np.int32) if found else np.zeros(0, dtype=np.int32)


def _positions(term, row: int, arrays: bool) -> np.ndarray:
    _, offsets, values = term
    if arrays:
        start, end = int(offsets[row]) // 4 + 1, int(offsets[row + 1]) // 4
        return np.frombuffer(values, dtype="<u4")[start:end].astype(np.int64)
    return np.array(decode_positions(values, offsets, row), dtype=np.int64)


def _within_window(lists: list[np.ndarray], distance: int) -> bool:
    """Whether one position from each list can be picked with the highest at most
    ``distance`` above the lowest (the smallest window holding every list, found by walking
    the merged positions)."""
    if len(lists) == 2:  # the common case, in numpy: the closest pair of the two lists
        a, b = lists
        at = np.searchsorted(b, a)
        best = np.inf
        before = at > 0
        if before.any():
            best = min(best, np.min(a[before] - b[at[before] - 1]))
        after = at < len(b)
        if after.any():
            best = min(best, np.min(b[at[after]] - a[after]))
        return bool(best <= distance)
    merged = sorted((int(p), i) for i, positions in enumerate(lists) for p in positions)
    need = len(lists)
    counts = [0] * need
    have = 0
    left = 0
    for right, (position, word) in enumerate(merged):
        if counts[word] == 0:
            have += 1
        counts[word] += 1
        while have == need:
            if position - merged[left][0] <= distance:
                return True
            gone = merged[left][1]
            counts[gone] -= 1
            if counts[gone] == 0:
                have -= 1
            left += 1
    return False


def exact_docs(q: Exact, searcher, facets, deadline: float) -> np.ndarray:
    """The live documents whose ``q.fieldname`` holds ``q.word`` as written (case ignored):
    those holding its stem, read from the stored articles."""
    candidates = facets.term_docs(q.fieldname, q.stem)
    candidates = candidates[facets.live[candidates]]
    word = q.word
    kept = []
    for i, doc in enumerate(candidates.tolist()):
        if i % 64 == 63:
            past(deadline)
        text = searcher.stored_fields(doc).get(q.fieldname) or ""
        lowered = text.lower()
        at = lowered.find(word)
        while at != -1:
            m = _TOKEN.match(lowered, at)
            if m and m.group() == word and (at == 0 or not _TOKEN.match(lowered[at - 1])):
                kept.append(doc)
                break
            at = lowered.find(word, at + 1)
    return np.array(kept, dtype=np.int32)
