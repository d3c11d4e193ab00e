"""What is distinctive about a search: the words, people, organisations and places unusually
frequent in the articles it matches (the foreground) compared with the whole archive (the
background), scored as Elasticsearch's ``significant_terms`` does by default, JLH:

    fg% = foreground articles holding the term / foreground articles
    bg% = archive articles holding the term / archive articles
    score = (fg% - bg%) * fg% / bg%     (0 when fg% <= bg%)

It rewards terms far more common in the foreground than in the archive, and more so the more
of the foreground they cover. Counts are of articles, exact for every term listed. A term must
be in at least ``min_count`` foreground articles (2 below 20 matching articles, else 3).

Names come from the facet tables, every one counted. Words cannot all be counted for every
search (the index has no list of each article's words), so candidates are the words of up to
``SAMPLE`` matching articles spread evenly over the match set (all of them when fewer; their
headlines and the first ``LEAD_CHARS`` characters of their bodies), ranked
by an estimate against ``BACKGROUND`` archive articles; the best (``CANDIDATES`` more than are
listed) are then counted exactly. The query's
own words are left out: they are in every matching article by definition.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, replace

import numpy as np
from whoosh.analysis import STOP_WORDS

from search.analysis import exact_key
from search.highlight import plain_pattern, word_former, word_pattern
from search.query import Selection, past, positive_terms

SAMPLE = 50  # matching articles read for candidate words
LEAD_CHARS = 1_500  # of each sampled body: its opening, where news puts what it is about
BACKGROUND = 1000  # archive articles read (once per index version) for the estimates
CANDIDATES = 10  # words counted exactly beyond those listed
DEFAULT_SIZE = 10
MAX_SIZE = 50
KINDS = ("words", "people", "organizations", "places")
_LETTER = re.compile(r"[^\W\d_]")


@dataclass(frozen=True)
class Term:
    term: str  # as shown: a word as the articles write it most often, or a name
    foreground: int  # matching articles holding it
    background: int  # archive articles holding it
    score: float

    def to_dict(self) -> dict:
        return {"term": self.term, "foreground": self.foreground,
                "background": self.background, "score": round(self.score, 6)}


@dataclass(frozen=True)
class Significant:
    foreground: int  # articles the search matches
    background: int  # articles in the archive
    kinds: dict  # kind -> tuple[Term, ...]
    sampled: int  # matching articles read for candidate words
    notes: tuple[str, ...]


def jlh(fg: np.ndarray, fg_total: float, bg: np.ndarray, bg_total: float) -> np.ndarray:
    """The JLH score of each term (arrays of foreground and background counts)."""
    fg_share = fg / max(fg_total, 1)
    bg_share = np.maximum(bg, 1e-9) / max(bg_total, 1)
    return np.where(fg_share > bg_share, (fg_share - bg_share) * fg_share / bg_share, 0.0)


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


def _article_words(stored: dict, findall) -> set[str]:
    """The distinct lower-case words of an article's headline and the opening of its body."""
    words = set(findall((stored.get("headline") or "").lower()))
    words.update(findall((stored.get("body") or "")[:LEAD_CHARS].lower()))
    return words


def _word_counts(docs, searcher, findall, deadline: float | None = None) -> Counter:
    """In how many of ``docs`` each word is (counted by word, in C: the words' terms are
    looked up once each afterwards)."""
    counts: Counter = Counter()
    for i, doc in enumerate(docs):
        if deadline is not None and i % 16 == 15:
            past(deadline)
        counts.update(_article_words(searcher.stored_fields(doc), findall))
    return counts


def _by_term(counts: Counter, form, own=frozenset(), least: int = 1) \
        -> tuple[Counter, dict[str, str]]:
    """``counts`` of words (those counted at least ``least`` times) as counts of their terms
    (stop words, words of under three letters, numbers and ``own`` left out), and each term's
    most counted word. Two forms of one word in one article count twice: an estimate,
    corrected by the exact count."""
    terms: Counter = Counter()
    shown: dict[str, tuple[int, str]] = {}
    for word, n in counts.items():
        if n < least or len(word) < 3 or word in STOP_WORDS or not _LETTER.search(word):
            continue
        term = form(word)
        if term is None or term in own:
            continue
        terms[term] += n
        if n > shown.get(term, (0, ""))[0]:
            shown[term] = (n, word)
    return terms, {t: w for t, (_, w) in shown.items()}


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
