"""Keyword in context and significant terms over a Whoosh index: the articles and counts they
need, read from the index; their rules (which words, which lines, which scores) are shared
(``search.kwic``, ``search.significant``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np

from search.analysis import exact_key
from search.engines.whoosh.matching import Selection, ordered
from search.errors import past
from search.highlight import plain_pattern, word_former, word_pattern
from search.kwic import FIELDS, Kwic, _iso, collect_lines, sort_lines, wanted
from search.query import positive_terms
from search.significant import (BACKGROUND, CANDIDATES, KINDS, SAMPLE, Significant, Term,
                                _article_words, _by_term, jlh)


def run_kwic(searcher, facets, request, sort: str, limit: int, deadline: float,
             time_limit: float) -> Kwic:
    """The lines of ``request``'s search (every article, not one per story), in its order or
    sorted by ``sort``, up to ``limit``: articles are read in the search's order until
    ``limit`` lines are found."""
    sel = Selection(searcher, facets, replace(request, group="none"), deadline, time_limit)
    notes = list(dict.fromkeys(sel.notes))
    want = wanted(sel.q, searcher.reader())
    if sel.q is not None and not want:
        notes.append("the query has no words to show in context (only names, dates or words "
                     "left out)")
    analyzers = {f: searcher.schema[f].analyzer for f in FIELDS}
    total = len(sel.docs)

    def articles(start: int, count: int):
        page, _ = ordered(sel, searcher, facets, start, count, deadline)
        for docnum, _ in page:
            past(deadline)
            stored = searcher.stored_fields(docnum)
            yield (stored.get("id", ""), _iso(stored.get("date")), stored.get("headline") or "",
                   stored)

    lines, read, more = collect_lines(articles, total, want, analyzers, limit)
    return Kwic(total, read, tuple(sort_lines(lines, sort)), more, tuple(notes))


def run_significant(searcher, facets, request, size: int, deadline: float,
                    time_limit: float) -> Significant:
    sel = Selection(searcher, facets, replace(request, group="none"), deadline, time_limit)
    fg_mask = sel.final
    fg_total = len(sel.docs)
    bg_total = int(np.count_nonzero(facets.live))
    notes = list(dict.fromkeys(sel.notes))
    min_count = 2 if fg_total < 20 else 3
    kinds: dict = {kind: () for kind in KINDS}
    if fg_total == 0 or fg_total == bg_total:
        if fg_total:
            notes.append("the search matches every article: nothing stands out against the "
                         "archive; add a query or a filter")
        return Significant(fg_total, bg_total, kinds, 0, tuple(notes))
    chosen = {"people": request.person, "organizations": request.organization,
              "places": request.place}
    for kind in ("people", "organizations", "places"):
        table = getattr(facets, kind)
        fg = table.counts(fg_mask)
        scores = jlh(fg, fg_total, table.doc_counts, bg_total)
        scores[fg < min_count] = 0
        for value in chosen[kind]:  # a filter's own names are in every article
            tid = table.index.get(exact_key(value))
            if tid is not None:
                scores[tid] = 0
        best = [t for t in np.argsort(-scores, kind="stable")[:size].tolist() if scores[t] > 0]
        kinds[kind] = tuple(Term(table.display[t], int(fg[t]), int(table.doc_counts[t]),
                                 float(scores[t])) for t in best)
    words, sampled = _words(searcher, facets, sel, fg_mask, fg_total, bg_total, size,
                            min_count, deadline)
    kinds["words"] = words
    return Significant(fg_total, bg_total, kinds, sampled, tuple(notes))


def _word_counts(docs, searcher, findall, deadline: float | None = None) -> Counter:
    """In how many of ``docs`` each word is (counted by word, in C: the words' terms are
    looked up once each afterwards)."""
    counts: Counter = Counter()
    for i, doc in enumerate(docs):
        if deadline is not None and i % 16 == 15:
            past(deadline)
        counts.update(_article_words(searcher.stored_fields(doc), findall))
    return counts


def _tokens(searcher):
    analyzer = searcher.schema["body"].analyzer
    return word_former(analyzer), plain_pattern(word_pattern(analyzer).pattern).findall


def background_sample(searcher, facets) -> tuple[int, Counter]:
    """How many articles ``BACKGROUND`` spread evenly over the archive are, and in how many of
    them each term is: the estimate of a word's share of the archive (built once per index
    version)."""
    def build():
        live = np.flatnonzero(facets.live)
        if len(live) > BACKGROUND:
            live = live[np.linspace(0, len(live) - 1, BACKGROUND).astype(np.int64)]
        form, findall = _tokens(searcher)
        return len(live), _by_term(_word_counts(live.tolist(), searcher, findall), form)[0]

    return facets.memo("significant-background", build)


def _words(searcher, facets, sel, fg_mask, fg_total, bg_total, size, min_count, deadline):
    reader = searcher.reader()
    docs = sel.docs
    if len(docs) > SAMPLE:
        docs = docs[np.linspace(0, len(docs) - 1, SAMPLE).astype(np.int64)]
    own = frozenset().union(*positive_terms(sel.q, reader).values()) \
        if sel.q is not None else frozenset()
    form, findall = _tokens(searcher)
    # a word in fewer sampled articles than this is not counted (its share of the matching
    # articles would be small: 2% of the sample at most)
    floor = min_count if len(docs) == fg_total else max(2, -(-len(docs) * 2 // 100))
    in_sample, written = _by_term(_word_counts(docs.tolist(), searcher, findall, deadline),
                                  form, own, least=floor)
    candidates = list(in_sample)
    if not candidates:
        return (), len(docs)
    # the estimate: the sample's share against the background sample's (one article for a
    # word it does not have: the rarest it can tell, so that a word of two sampled articles
    # the background happens to miss does not crowd out a common one far more frequent here)
    bg_n, bg_counts = background_sample(searcher, facets)
    est_fg = np.array([in_sample[t] for t in candidates], dtype=np.float64)
    est_bg = np.array([bg_counts.get(t, 1) for t in candidates], dtype=np.float64)
    estimate = jlh(est_fg / len(docs), 1, est_bg / max(bg_n, 1), 1)
    order = np.argsort(-estimate, kind="stable")[:size + CANDIDATES]
    found = []
    in_headline = np.zeros(facets.maxdoc, dtype=bool)  # cleared after each word
    for at in order.tolist():
        past(deadline)
        term = candidates[at]
        # the articles holding it in the headline or the body: the headline's, and the body's
        # that are not among them (a look at only the documents of the two lists)
        head = facets.term_docs("headline", term)
        in_headline[head] = True
        body = facets.term_docs("body", term)
        body = body[~in_headline[body]]
        in_headline[head] = False
        fg = int(np.count_nonzero(fg_mask[head]) + np.count_nonzero(fg_mask[body]))
        if fg < min_count:
            continue
        bg = int(np.count_nonzero(facets.live[head]) + np.count_nonzero(facets.live[body]))
        score = float(jlh(np.array([fg]), fg_total, np.array([bg]), bg_total)[0])
        if score > 0:  # shown as the sample's articles most often write it
            found.append(Term(written[term], fg, bg, score))
    found.sort(key=lambda t: (-t.score, t.term))
    return tuple(found[:size]), len(docs)
