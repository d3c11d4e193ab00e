"""How text becomes terms, for indexing, querying and highlighting alike.

- ``FoldFilter``: accent folding after lower-casing ("café" ~ "cafe", "Khloé" ~ "khloe",
  "straße" ~ "strasse"), with Whoosh's own ``accent_map`` (Latin, Greek and Cyrillic letters
  with marks) and a few letters it leaves out or folds to one letter.
- ``snowball_stem``: the Snowball English stemmer (PyStemmer, in C): "running", "runs" and
  "run" share the stem ``run``, which whoosh3's Porter stemmer split into ``runn`` and ``run``.
- ``text_analyzer``: headline and body (words, lower case, folded, stop words out, stems).
- ``name_analyzer`` / ``exact_analyzer``: people (a comma-separated list of names) and section
  (one value), matched whole, case and accents ignored; ``exact_key`` gives the same key for a
  value typed in a filter.

These objects are pickled into every index's table of contents: the names of this module and
of what it defines are part of the index format.
"""

from __future__ import annotations

import re
from functools import lru_cache

from whoosh.analysis import (
    CommaSeparatedTokenizer,
    Filter,
    IDTokenizer,
    LowercaseFilter,
    RegexTokenizer,
    StemFilter,
    StopFilter,
)
from whoosh.support.charset import accent_map

# 1: Porter stems, no folding; 2: positions pickled as Whoosh does; 3: no stories; 4: stories;
# 5: organisations and places (with or without stories)
INDEX_FORMAT = 5
MIN_WRITABLE_FORMAT = 2  # ingest adds to indexes of formats 2 to 4 in their own format

_FOLD = dict(accent_map)
_FOLD.update({ord("ß"): "ss", ord("æ"): "ae", ord("œ"): "oe", ord("þ"): "th", ord("ð"): "d",
              ord("ĳ"): "ij", ord("ø"): "o", ord("ł"): "l", ord("đ"): "d", ord("ı"): "i"})


@lru_cache(maxsize=1)
def uneven_fold() -> re.Pattern:
    """The characters that ``fold(c.lower())`` turns into more or fewer than one character
    ("ß" and "Æ" into two, a combining accent into none, "İ" into "i" and a dot): a text
    without them folds character for character, keeping every offset."""
    chars = [c for c in map(chr, range(0x10000)) if len(fold(c.lower())) != 1]
    return re.compile("[%s]" % "".join(re.escape(c) for c in chars))


def fold(text: str) -> str:
    """``text`` with accents and the like removed (lower-case it first)."""
    return text.translate(_FOLD)


def exact_key(value: str) -> str:
    """The term a people or section value is indexed under: lower case, folded, trimmed."""
    return fold(value.strip().lower())


class FoldFilter(Filter):
    """Folds accents in each token (after ``LowercaseFilter``)."""

    def __eq__(self, other):
        return other is not None and self.__class__ is other.__class__

    def __call__(self, tokens):
        for t in tokens:
            t.text = t.text.translate(_FOLD)
            yield t


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def snowball_stem(word: str) -> str:
    """The Snowball (Porter2) English stem of a lower-case word."""
    return _stemmer().stemWord(word)


def text_analyzer():
    return (RegexTokenizer() | LowercaseFilter() | FoldFilter() | StopFilter()
            | StemFilter(stemfn=snowball_stem, cachesize=100_000))


def name_analyzer():
    return CommaSeparatedTokenizer() | LowercaseFilter() | FoldFilter()


def exact_analyzer():
    return IDTokenizer() | LowercaseFilter() | FoldFilter()


def index_format(schema) -> int:
    """``INDEX_FORMAT`` (5) for an index made by this version (organisations and places; with
    or without stories); 4 for one with stories but without organisations and places; 3 for
    one with neither; 2 for one with accent folding and Snowball stems but Whoosh's pickled
    positions; 1 for one made before folding. Formats 2 to 4 are searched and added to as they
    are, without what they lack (stories: every article its own story; organisations and
    places: none); ``ingest.py --rebuild`` converts."""
    items = getattr(schema["headline"].analyzer, "items", ())
    if not any(isinstance(i, FoldFilter) for i in items):
        return 1
    if type(schema["headline"].format).__name__ != "ArrayPositions":
        return 2
    if "places" in schema:
        return 5
    return 4 if "story" in schema else 3
