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

Here: the scores and the words of an article, shared; each engine counts its own way
(``search.engines.whoosh.research.run_significant``, the Xapian engine's ``significant``).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
from whoosh.analysis import STOP_WORDS


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


def _article_words(stored: dict, findall) -> set[str]:
    """The distinct lower-case words of an article's headline and the opening of its body."""
    words = set(findall((stored.get("headline") or "").lower()))
    words.update(findall((stored.get("body") or "")[:LEAD_CHARS].lower()))
    return words


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
