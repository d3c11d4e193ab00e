"""The query operators researchers expect, beyond Whoosh's own syntax: proximity, fuzzy words,
dates inside the query and words without stemming.

- ``"word1 word2"~N`` and ``word1 NEAR/N word2``: the words (stems, as a phrase's) occur within
  N words of one another, in any order: one occurrence of each such that the first and the last
  are at most N words apart (stop words such as "the" and "of" are not counted, as they are not
  indexed). ``NEAR/N`` joins single words (``a NEAR/3 b NEAR/3 c`` is ``"a b c"~3``; with
  different Ns, the largest).
- ``name~`` and ``name~2``: the indexed words at most 1 (or 2) edits from the word's stem (an
  edit: a letter added, removed, changed, or two neighbours swapped), found with rapidfuzz over
  the archive's word list (Whoosh's automaton took 300 ms a word on 2,500 articles).
- ``date:1987``, ``date:1987-03``, ``date:1987-03-05``, ``date:[1987-03-01 TO 1987-06-30]``
  (either end a year, a month or a day, or ``*``): the article's date in that range. It combines
  with the ``from``/``to`` parameters by AND, like any other part of the query.
- ``exact:running``: the word as written ("running", case ignored), not its other forms
  ("runs", "ran"): the articles holding the stem are read and the word looked for in their
  headline and body.

Each operator is a Whoosh query class of its own, which the parser makes with a plugin; the
Whoosh engine evaluates them with numpy on positions (``search.engines.whoosh.matching``), the
Xapian engine compiles them (``search.engines.xapian.compiler``).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from rapidfuzz import process
from rapidfuzz.distance import OSA
from whoosh import query as wq
from whoosh.qparser import FuzzyTermPlugin, PhrasePlugin, syntax
from whoosh.qparser.plugins import TaggingPlugin


MAX_EDITS = 2
MAX_FUZZY_WORDS = 64  # words one fuzzy word may stand for
MAX_FUZZY_WORDS_QUERY = 8  # fuzzy words one query may hold
NEAR_WORDS = 8  # words one proximity group may hold
EXACT_FIELDS = ("headline", "body")


# -- the query classes ---------------------------------------------------------------------------

class _Leaf(wq.Query):
    """A leaf query the engines evaluate themselves (never Whoosh's matchers)."""

    fieldname = None
    boost = 1.0

    def __eq__(self, other):
        return type(other) is type(self) and self._key() == other._key()

    def __hash__(self):
        return hash((type(self).__name__, self._key()))

    def __repr__(self):
        return f"{type(self).__name__}{self._key()!r}"

    def _key(self) -> tuple:
        raise NotImplementedError

    def is_leaf(self):
        return True

    def terms(self, phrases=False):
        return iter(())

    def matcher(self, searcher, context=None):
        raise NotImplementedError(f"{type(self).__name__} is evaluated by matched_mask")


class Near(_Leaf):
    """``words`` (indexed terms of ``fieldname``) within ``distance`` words of each other, in
    any order."""

    def __init__(self, fieldname: str, words: list[str], distance: int, boost: float = 1.0):
        self.fieldname = fieldname
        self.words = list(dict.fromkeys(words))[:NEAR_WORDS]
        self.distance = distance
        self.boost = boost

    def _key(self):
        return (self.fieldname, tuple(self.words), self.distance)

    def __str__(self):
        return f'{self.fieldname}:"{" ".join(self.words)}"~{self.distance}'

    def field(self):
        return self.fieldname

    def terms(self, phrases=False):
        if phrases:
            for word in self.words:
                yield self.fieldname, word

    def normalize(self):
        if not self.words:
            return wq.NullQuery
        if len(self.words) == 1:
            return wq.Term(self.fieldname, self.words[0], boost=self.boost)
        return self


class DateRange(_Leaf):
    """Articles dated ``first``-``last`` (either may be None: open); ``text`` as typed."""

    def __init__(self, first: dt.date | None, last: dt.date | None, text: str = ""):
        self.first, self.last, self.text = first, last, text

    def _key(self):
        return (self.first, self.last)

    def __str__(self):
        return f"date:[{self.first or '*'} TO {self.last or '*'}]"


class Exact(_Leaf):
    """``word`` exactly as written (case ignored) in ``fieldname``, whose stem is ``stem``."""

    def __init__(self, fieldname: str, word: str, stem: str, boost: float = 1.0):
        self.fieldname, self.word, self.stem = fieldname, word, stem
        self.boost = boost

    def _key(self):
        return (self.fieldname, self.word, self.stem)

    def __str__(self):
        return f"{self.fieldname}:exact:{self.word}"

    def field(self):
        return self.fieldname


class BadOperator(_Leaf):
    """An operator that could not be read (``date:someday``): left out with ``note``."""

    def __init__(self, note: str):
        self.note = note

    def _key(self):
        return (self.note,)


# -- parsing ---------------------------------------------------------------------------------

class NearPhrasePlugin(PhrasePlugin):
    """Whoosh's phrases, with ``"..."~N`` read as ``Near`` (Whoosh reads it as an ordered phrase
    with slop, and ``"..."~1`` the same as ``"..."``)."""

    class NearNode(PhrasePlugin.PhraseNode):
        def query(self, parser):
            q = PhrasePlugin.PhraseNode.query(self, parser)
            if isinstance(q, wq.Phrase):
                return Near(q.fieldname, q.words, self.distance, boost=q.boost)
            return q

    class NearTagger(PhrasePlugin.PhraseTagger):
        def create(self, parser, match):
            text, start = match.group("text"), match.start("text")
            distance = match.group("slop")
            if distance is None:
                return PhrasePlugin.PhraseNode(text, start)
            node = NearPhrasePlugin.NearNode(text, start)
            node.distance = int(distance)
            return node

    def __init__(self):
        super().__init__(expr='"(?P<text>.*?)"(~(?P<slop>[0-9]{1,3})(?![\\w~]))?')

    def taggers(self, parser):
        return [(self.NearTagger(self.expr), 0)]


class FuzzyPlugin(FuzzyTermPlugin):
    """``word~`` and ``word~N`` (N at most ``MAX_EDITS``), every word may differ from its first
    letter on."""

    expr = re.compile(r"(?<=\w)~(?P<maxdist>[0-9])?(?![\w~/])")

    def create(self, parser, match):
        given = match.group("maxdist")
        return self.FuzzinessNode(int(given) if given else 1, 0, match.group(0))


class _OperatorNode(syntax.SyntaxNode):
    has_fieldname = False
    has_text = False
    has_boost = False

    def __init__(self, value: str):
        self.value = value

    def r(self):
        return f"{type(self).__name__} {self.value!r}"


class DateNode(_OperatorNode):
    def query(self, parser):
        try:
            first, last = read_date_range(self.value)
        except ValueError as exc:
            return BadOperator(f"'date:{self.value}' was left out: {exc}")
        return DateRange(first, last, self.value)


class DatePlugin(TaggingPlugin):
    """``date:1987``, ``date:1987-03``, ``date:[1987-03-01 TO 1987-06-30]``."""

    expr = r"(?<![\w:])date:(?P<value>\[[^\]\s]*(?:\s+TO\s+[^\]\s]*)?\]?|[^\s()]+)"
    nodetype = DateNode
    priority = -10


class ExactNode(_OperatorNode):
    def __init__(self, value: str, field: str | None = None):
        super().__init__(value)
        self.field = {"title": "headline"}.get(field or "", field)

    def query(self, parser):
        word = self.value.strip('"').lower()
        schema = parser.schema
        made = []
        for field in [self.field] if self.field else EXACT_FIELDS:
            if field not in schema:
                continue
            stems = [t.text for t in schema[field].analyzer(word, mode="query")]
            if len(stems) != 1 or not re.fullmatch(r"\w+(?:[.'’-]\w+)*", word):
                return BadOperator(f"'exact:{self.value}' was left out: exact: takes one word "
                                   "that is not a stop word")
            made.append(Exact(field, word, stems[0]))
        return wq.Or(made) if len(made) > 1 else made[0] if made else wq.NullQuery


class ExactPlugin(TaggingPlugin):
    """``exact:word``; ``headline:exact:word`` and ``body:exact:word`` for one field."""

    expr = r"(?<![\w:])(?:(?P<field>headline|title|body):)?exact:(?P<value>\"[^\"\s]*\"|[^\s()\"]+)"
    nodetype = ExactNode
    priority = -10


_NEAR = re.compile(r"(?P<first>(?:\w+:)?[^\s\"()]+)(?P<rest>(?:\s+NEAR/\d{1,3}\s+[^\s\"()]+)+)",
                   re.IGNORECASE)
_NEAR_STEP = re.compile(r"\s+NEAR/(\d{1,3})\s+([^\s\"()]+)", re.IGNORECASE)


def rewrite_near(text: str) -> str:
    """``a NEAR/3 b`` as ``"a b"~3`` (a field before the first word is kept before the quote)."""
    if "/" not in text:
        return text

    def one(m: re.Match) -> str:
        first = m.group("first")
        field = ""
        if ":" in first and not first.startswith(":"):
            field, first = first.split(":", 1)
            field += ":"
        steps = _NEAR_STEP.findall(m.group("rest"))
        distance = max(int(n) for n, _ in steps)
        words = [first] + [w for _, w in steps]
        return f'{field}"{" ".join(words)}"~{distance}'

    return _NEAR.sub(one, text)


_DAY = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def _period(text: str) -> tuple[dt.date, dt.date]:
    """The first and last day of a year, a month or a day written ``1987[-03[-05]]``."""
    m = _DAY.match(text.strip())
    if not m:
        raise ValueError("write a year (1987), a month (1987-03), a day (1987-03-05) or a "
                         "range [1987-03-01 TO 1987-06-30]")
    year = int(m.group(1))
    if not 1 <= year <= 9999:
        raise ValueError(f"{year} is not a year")
    try:
        if m.group(3):
            day = dt.date(year, int(m.group(2)), int(m.group(3)))
            return day, day
        if m.group(2):
            month = int(m.group(2))
            return dt.date(year, month, 1), dt.date(year, month,
                                                    calendar.monthrange(year, month)[1])
    except ValueError as exc:
        raise ValueError(f"'{text}' is not a date ({exc})") from None
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def read_date_range(value: str) -> tuple[dt.date | None, dt.date | None]:
    """(first, last) day of ``date:``'s value; either may be None (``*``)."""
    value = value.strip()
    if value.startswith("["):
        inner = value[1:].rstrip("]")
        parts = re.split(r"\s+TO\s+", inner.strip(), flags=re.IGNORECASE)
        if len(parts) != 2:
            raise ValueError("a range is written [1987-03-01 TO 1987-06-30] ('*' for an open "
                             "end)")
        first = None if parts[0].strip() in ("*", "") else _period(parts[0])[0]
        last = None if parts[1].strip() in ("*", "") else _period(parts[1])[1]
        if first and last and first > last:
            raise ValueError(f"{first} is after {last}")
        return first, last
    return _period(value)


def plugins() -> list:
    return [NearPhrasePlugin(), FuzzyPlugin(), DatePlugin(), ExactPlugin()]


# -- fuzzy words ----------------------------------------------------------------------------------

def expand_fuzzy(q: wq.FuzzyTerm, lexicon, notes: list[str]) -> wq.Query:
    """The words of ``lexicon(field)`` (a sorted list) within ``q.maxdist`` edits of ``q.text``,
    as an OR of terms (the word itself among them, so that nothing found matches nothing)."""
    text = q.text.decode("utf-8") if isinstance(q.text, bytes) else q.text
    edits = int(q.maxdist)
    if edits > MAX_EDITS:
        notes.append(f"'{text}~{edits}' was searched with {MAX_EDITS} edits, the most allowed")
        edits = MAX_EDITS
    found = process.extract(text, lexicon(q.fieldname), scorer=OSA.distance,
                            score_cutoff=edits, limit=MAX_FUZZY_WORDS + 1)
    words = sorted({w for w, _, _ in found} | {text}, key=lambda w: (w != text, w))
    if len(words) > MAX_FUZZY_WORDS:
        notes.append(f"'{text}~{edits}' stands for the {MAX_FUZZY_WORDS} closest words only")
        words = [text] + [w for w, _, _ in sorted(found, key=lambda f: (f[1], f[0]))
                          if w != text][:MAX_FUZZY_WORDS - 1]
    terms = [wq.Term(q.fieldname, w, boost=q.boost) for w in words]
    return terms[0] if len(terms) == 1 else wq.Or(terms)


# -- evaluation ----------------------------------------------------------------------------------


_TOKEN = re.compile(r"\w+(?:\.?\w+)*")
