"""The Whoosh schema: field names, analyzers, boosts and stored/sortable flags, in one place.

Also the mapping between ``Article`` and the stored document.
"""

from __future__ import annotations

import datetime as dt
import re
import struct
import sys
from array import array

from whoosh.analysis import LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.columns import NumericColumn
from whoosh.fields import COLUMN, DATETIME, ID, KEYWORD, STORED, TEXT, Schema
from whoosh.formats import Positions

from search.analysis import FoldFilter, exact_analyzer, fold, name_analyzer, text_analyzer
from search.models import ENTITY_KINDS, Article

HEADLINE_BOOST = 2.0
PEOPLE_SEPARATOR = ", "  # canonical names never contain commas (search.people, search.entities)
_LITTLE = sys.byteorder == "little"


class ArrayPositions(Positions):
    """Whoosh's ``Positions`` format with each posting's value as plain little-endian uint32:
    the count of positions, then the positions. Whoosh pickles a list of deltas instead, which
    only Python can read; these can be read for many documents at once with numpy (phrases:
    ``search.query``). Index format 3."""

    def encode(self, poslist) -> bytes:
        values = array("I", poslist)
        if not _LITTLE:
            values.byteswap()
        return struct.pack("<I", len(values)) + values.tobytes()

    def decode_positions(self, valuestring: bytes) -> list[int]:
        n = struct.unpack_from("<I", valuestring)[0]
        return list(struct.unpack_from(f"<{n}I", valuestring, 4))

    def decode_frequency(self, valuestring: bytes) -> int:
        return struct.unpack_from("<I", valuestring)[0]

    def decode_weight(self, valuestring: bytes) -> float:
        return self.decode_frequency(valuestring) * self.field_boost


class ArticleText(TEXT):
    """Whoosh's ``TEXT`` with ``search.analysis.text_analyzer`` (lower case, accents folded,
    stop words out, Snowball stems: "elections" ~ "election", "café" ~ "cafe"), indexed in one
    pass.

    Searching, highlighting and query parsing use the analyzer as it is. Only ``index`` (what
    the writer calls for every article) is done differently: one regex pass over the text,
    each distinct word folded and stemmed once per process, instead of a chain of generators
    handing a token object along for every word. The terms, frequencies, weights and positions
    are the ones the analyzer chain gives (``tests/test_schema.py`` compares them); with any
    other analyzer, or any indexing option, it is Whoosh's own ``index``. Indexes made before
    folding (Porter stems, ``StemmingAnalyzer``) are indexed the same way with their own chain.
    """

    def __init__(self, **kwargs):
        super().__init__(analyzer=text_analyzer(), **kwargs)
        self.format = ArrayPositions(field_boost=self.format.field_boost)

    def __getstate__(self):  # the plan is rebuilt after unpickling (the schema is pickled)
        return {k: v for k, v in self.__dict__.items() if k not in ("_one_pass", "_steps")}

    def _plan(self):
        """(function listing a text's words as written, {word as written: term}) of the
        analyzer, or None when it is not the plain StemmingAnalyzer chain."""
        try:
            return self.__dict__["_one_pass"]
        except KeyError:
            pass
        items = list(getattr(self.analyzer, "items", ()))
        folding = len(items) == 5 and type(items[2]) is FoldFilter
        if folding:
            del items[2]
        plan = None
        if [type(i) for i in items] == [RegexTokenizer, LowercaseFilter, StopFilter, StemFilter] \
                and not items[0].gaps and items[2].renumber and not items[3].ignore:
            plan = (_words_of(items[0].expression), {})
            self.__dict__["_steps"] = (items[2].stops, items[2].min, items[2].max,
                                       items[3]._stem, folding)
        self.__dict__["_one_pass"] = plan
        return plan

    def index(self, value, **kwargs):
        plan = self._plan() if not kwargs and isinstance(value, str) else None
        if plan is None:
            yield from super().index(value, **kwargs)
            return
        positions = self._positions(value, plan)
        boost = self.format.field_boost
        if _LITTLE and type(self.format) is ArrayPositions:
            for term, found in positions.items():
                n = len(found)
                yield term, n, n * boost, array("I", [n, *found]).tobytes()
            return
        encode = self.format.encode
        for term, found in positions.items():
            yield term, len(found), len(found) * boost, encode(found)

    def positions(self, value: str) -> dict[bytes, list[int]]:
        """{term: its positions} of ``value``: what ``index`` encodes, without encoding it
        (the Xapian engine's documents are made from these)."""
        plan = self._plan()
        if plan is None:
            decode = self.format.decode_positions
            return {term: decode(v) for term, _, _, v in super().index(value)}
        return self._positions(value, plan)

    def _positions(self, value: str, plan) -> dict[bytes, list[int]]:
        words_of, terms_of = plan
        get = terms_of.get
        terms = [get(raw, _UNSEEN) for raw in words_of(value)]
        if _UNSEEN in terms:
            terms = [self._term(raw) if term is _UNSEEN else term
                     for raw, term in zip(words_of(value), terms)]
        first = 0  # like StopFilter(renumber=True): the first kept word keeps its position
        if None in terms:
            while first < len(terms) and terms[first] is None:
                first += 1
            terms = [term for term in terms if term is not None]
        positions: dict[bytes, list[int]] = {}
        for i, term in enumerate(terms, first):
            found = positions.get(term)
            if found is None:
                positions[term] = [i]
            else:
                found.append(i)
        return positions

    def _term(self, raw: str) -> bytes | None:
        """The term of a word as written (lower-cased, folded, stop words and sizes checked,
        stemmed), remembered for the next time; None for a word the chain drops."""
        words = self._plan()[1]
        stops, minsize, maxsize, stem, folding = self.__dict__["_steps"]
        word = fold(raw.lower()) if folding else raw.lower()
        if len(word) < minsize or (maxsize is not None and len(word) > maxsize) \
                or word in stops:
            term = None
        else:
            term = stem(word).encode("utf-8")
        if len(words) >= _WORDS_KEPT:
            words.clear()
        words[raw] = term
        return term


_UNSEEN = object()
_GROUP = re.Match.group
_WORDS_KEPT = 1_000_000  # words as written, per field and process (about 150 MB at most)
# Whoosh's default token pattern, without its capturing group (so that findall gives words)
_WORDS = {r"[\w\*]+(\.?[\w\*]+)*": re.compile(r"[\w\*]+(?:\.?[\w\*]+)*")}


def _words_of(pattern: re.Pattern):
    """A function listing the words ``pattern`` finds in a text."""
    if pattern.groups == 0:
        return pattern.findall
    plain = _WORDS.get(pattern.pattern)
    if plain is not None and plain.flags == pattern.flags:
        return plain.findall
    return lambda text: list(map(_GROUP, pattern.finditer(text)))


# an article whose names the archive's aliases file changed (search.aliases): "1", and its
# names as they were found, {kind: [names]}, from which a changed file starts again
ALIAS_FIELDS = {"aliased": ID(), "names_found": STORED()}


def build_schema(stories: bool = True) -> Schema:
    """The schema of the index this version writes (format 5); without the story fields
    (every article a story of its own) if not ``stories``."""
    exact = exact_analyzer()
    schema = Schema(
        id=ID(stored=True, unique=True),
        # "<content hash>:<id>": a term lookup tells whether an article is already stored unchanged
        fingerprint=ID(stored=True),
        # "did you mean" suggestions come from these fields' own terms (search.engines.whoosh.matching._suggest),
        # so no second, unstemmed copy of every word is indexed (spelling=True)
        headline=ArticleText(stored=True, field_boost=HEADLINE_BOOST),
        body=ArticleText(stored=True),
        # whole names, case and accents ignored ("José Mourinho" ~ "jose mourinho")
        people=KEYWORD(stored=True, scorable=True, analyzer=name_analyzer()),
        # the same for the organisations and places it names (format 5)
        organizations=KEYWORD(stored=True, scorable=True, analyzer=name_analyzer()),
        places=KEYWORD(stored=True, scorable=True, analyzer=name_analyzer()),
        # date: indexed for Whoosh's own range queries (the benchmark's documented side); the
        # service filters and counts dates and years from the columns (search.facets)
        date=DATETIME(stored=True, sortable=True),
        year=COLUMN(NumericColumn("H", default=0)),  # 0: undated
        section=ID(stored=True, analyzer=exact, sortable=True),
        url=ID(stored=True),
        byline=STORED(),
        source=ID(stored=True, analyzer=exact),
        # the article's story (search.stories): its lead's id, and how much of this version's
        # text the lead holds, as (containment, jaccard) of their shingles
        story=ID(stored=True, sortable=True),
        story_similarity=STORED(),
        **ALIAS_FIELDS,
    )
    if not stories:
        schema.remove("story")
        schema.remove("story_similarity")
    return schema


def article_to_doc(article: Article, fingerprint: str | None = None,
                   story: tuple[str, tuple[float, float]] | None = None) -> dict:
    """The stored document of ``article``; ``fingerprint`` ("<hash of the input>:<id>", see
    ``search.ingest.records.Prepared``) tells a later ingest that its input is unchanged;
    ``story`` is (story id, similarity to its lead) in an index that keeps stories."""
    doc = {
        "id": article.id,
        "fingerprint": fingerprint or f"{article.content_hash}:{article.id}",
        "headline": article.headline,
        "body": article.body,
        "people": PEOPLE_SEPARATOR.join(article.people),
        "byline": article.byline,
    }
    # (left out when there are none: an index made before them has no such fields)
    for kind in ("organizations", "places"):
        if getattr(article, kind):
            doc[kind] = PEOPLE_SEPARATOR.join(getattr(article, kind))
    # empty values are left out, so that "" never becomes a section or a source term
    for name in ("section", "url", "source"):
        if getattr(article, name):
            doc[name] = getattr(article, name)
    if article.date is not None:
        doc["date"] = dt.datetime(article.date.year, article.date.month, article.date.day)
        doc["year"] = article.date.year
    if story is not None:
        doc["story"], doc["story_similarity"] = story[0], tuple(story[1])
    return doc


def doc_to_article(stored: dict) -> Article:
    date = stored.get("date")
    names = {kind: tuple(n for n in (stored.get(kind) or "").split(PEOPLE_SEPARATOR) if n)
             for kind in ENTITY_KINDS}
    return Article(
        id=stored["id"],
        headline=stored.get("headline", ""),
        body=stored.get("body", ""),
        people=names["people"],
        organizations=names["organizations"],
        places=names["places"],
        date=date.date() if isinstance(date, dt.datetime) else None,
        section=stored.get("section", ""),
        url=stored.get("url", ""),
        byline=stored.get("byline", ""),
        source=stored.get("source", ""),
    )
