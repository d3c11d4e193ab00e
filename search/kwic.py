"""Keyword in context: every place a search's words and phrases occur in the articles it
matches, as lines of (left, match, right), in the search's order.

What counts as an occurrence is what the index matched: a word of the query in any of its
forms ("ferry" and "ferries"), a prefix's or a fuzzy word's expansions, ``exact:`` words as
written, a phrase as one match from its first word to its last (stop words between included),
each word of a proximity group that has the others within its distance. Words the query
leaves out (``NOT``, ``-word``) and names searched in the people, organisation and place
fields are not text, and make no line. Lines come from the headline, then the body, of each
article, with up to ``CONTEXT_CHARS`` characters each side, cut at a word.

Here: the rules, shared; each engine reads the matching articles its own way
(``search.engines.whoosh.research.run_kwic``, the Xapian engine's ``kwic``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from whoosh import query as wq
from whoosh.analysis import STOP_WORDS

from search import operators as ops
from search.highlight import match_spans, word_former, word_pattern
from search.query import leaf_terms, positive_leaves

CONTEXT_CHARS = 60
DEFAULT_LINES = 100
MAX_LINES = 1000  # lines one request may return
FIELDS = ("headline", "body")
SORTS = ("order", "left", "right")


@dataclass(frozen=True)
class Line:
    id: str
    date: str | None
    headline: str
    field: str
    left: str
    match: str
    right: str

    def to_dict(self) -> dict:
        return {"id": self.id, "date": self.date, "headline": self.headline,
                "field": self.field, "left": self.left, "match": self.match,
                "right": self.right}


@dataclass
class Wanted:
    """What to show of one field: single words (indexed terms, or ``EXACT_MARK`` + a word as
    written), phrases (their terms, in order) and proximity groups (terms, distance)."""

    terms: set
    phrases: list
    nears: list

    def __bool__(self):
        return bool(self.terms or self.phrases or self.nears)


def wanted(q: wq.Query | None, reader) -> dict[str, Wanted]:
    """The occurrences to show for ``q``, per text field: its leaves outside ``NOT``."""
    found = {f: Wanted(set(), [], []) for f in FIELDS}
    for leaf in positive_leaves(q):
        want = found.get(getattr(leaf, "fieldname", None))
        if want is None:
            continue
        if isinstance(leaf, ops.Near):
            want.nears.append((tuple(leaf.words), leaf.distance))
        elif isinstance(leaf, wq.Phrase):
            want.phrases.append(tuple(leaf.words))
        else:
            want.terms.update(leaf_terms(leaf, reader))
    return {f: w for f, w in found.items() if w}


def occurrences(text: str, want: Wanted, analyzer) -> list[tuple[int, int]]:
    """(start, end) of each occurrence of ``want`` in ``text``, in text order, none
    overlapping."""
    spans = match_spans(text, frozenset(want.terms), analyzer) if want.terms else []
    if want.phrases or want.nears:
        spans += _grouped(text, want, analyzer)
    spans.sort(key=lambda s: (s[0], -s[1]))
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and s < out[-1][1]:
            continue
        out.append((s, e))
    return out


def _grouped(text: str, want: Wanted, analyzer) -> list[tuple[int, int]]:
    """Phrase and proximity occurrences: the words that are not stop words or one letter long,
    numbered as the index numbers them, and their terms."""
    tokens = []  # (start, end, term)
    form = word_former(analyzer)
    for m in word_pattern(analyzer).finditer(text):
        word = m.group().lower()
        if word in STOP_WORDS or len(word) < 2:  # as Whoosh's StopFilter (minsize 2)
            continue
        tokens.append((m.start(), m.end(), form(word)))
    terms = [t for _, _, t in tokens]
    out = []
    for words in want.phrases:
        k = len(words)
        for i in range(len(tokens) - k + 1):
            if terms[i] == words[0] and tuple(terms[i:i + k]) == words:
                out.append((tokens[i][0], tokens[i + k - 1][1]))
    for words, distance in want.nears:
        at = {w: [i for i, t in enumerate(terms) if t == w] for w in words}
        if any(not v for v in at.values()):
            continue
        for w, positions in at.items():
            others = [v for o, v in at.items() if o != w]
            for i in positions:
                if all(any(abs(i - j) <= distance for j in v) for v in others):
                    out.append(tokens[i][:2])
    return out


def line_parts(text: str, start: int, end: int, chars: int = CONTEXT_CHARS) \
        -> tuple[str, str, str]:
    """(left, match, right) of ``text[start:end]``: up to ``chars`` characters each side, a
    word cut in two at the outer edge left out."""
    a = max(0, start - chars)
    left = text[a:start]
    if a > 0 and not text[a - 1].isspace() and " " in left:
        left = left[left.index(" ") + 1:]
    b = min(len(text), end + chars)
    right = text[end:b]
    if b < len(text) and not text[b].isspace() and " " in right:
        right = right[:right.rindex(" ")]
    return left, text[start:end], right


def sort_key(line: Line, sort: str) -> list[str]:
    """By the words before the match, nearest first ("left"), or after it ("right")."""
    if sort == "left":
        return [w.lower() for w in reversed(_WORDS.findall(line.left))]
    return [w.lower() for w in _WORDS.findall(line.right)]


_WORDS = re.compile(r"\w+")


@dataclass(frozen=True)
class Kwic:
    total: int  # articles the search matches
    read: int  # of those, the articles read for lines (in the search's order)
    lines: tuple[Line, ...]
    more: bool  # lines past the cap were left out
    notes: tuple[str, ...]


def collect_lines(articles, total: int, want: dict[str, Wanted], analyzers: dict,
                  limit: int) -> tuple[list[Line], int, bool]:
    """The lines of the articles a search matches, read in its order until ``limit`` lines
    are found: (lines, articles read, whether lines past the cap were left out).
    ``articles(start, count)`` yields the search's articles ``start`` to ``start + count`` as
    (id, date as ISO or None, headline, {field: text}), whatever the engine."""
    lines: list[Line] = []
    read = 0
    more = False
    chunk = max(limit, 20)
    while want and read < total and not more:
        for article_id, date, headline, texts in articles(read, chunk):
            read += 1
            for field in FIELDS:
                if field not in want:
                    continue
                text = " ".join((texts.get(field) or "").split())
                for s, e in occurrences(text, want[field], analyzers[field]):
                    if len(lines) == limit:
                        more = True
                        break
                    left, match, right = line_parts(text, s, e)
                    lines.append(Line(article_id, date, headline, field, left, match, right))
            if more:
                break
        chunk *= 2
    return lines, read, more


def sort_lines(lines: list[Line], sort: str) -> list[Line]:
    """``lines`` sorted by the word before or after (``sort`` "left" or "right"), else as
    they are (the search's order)."""
    if sort in ("left", "right"):
        lines.sort(key=lambda line: sort_key(line, sort))
    return lines


def _iso(value) -> str | None:
    if value is None or value == "":
        return None
    return value.isoformat()[:10] if hasattr(value, "isoformat") else str(value)[:10]
