"""Stories: the copies and versions of one article, grouped.

A wire story is printed many times: the agency's first take, its updates, clients' copies with
a new headline, a dateline, a trimmed ending, a few edits or a correction added. This module
decides which articles are versions of one another; ``search.indexer`` keeps the grouping in
the index as articles come and go, and searches show one hit per story.

How two articles are compared:

- Each article's text (its body; the headline too when the body is a few words) becomes its
  set of *shingles*: every run of ``SHINGLE`` words, lower-cased and folded ("Café" = "cafe"),
  numbers kept, each as a 32-bit hash. Copies share most of their shingles; different articles on one topic share few;
  templated reports ("Shr 51 cts vs 38 cts ...") share their template's words but hardly a run
  of three words, since almost every run holds one of their own numbers.
- Two articles are versions of one story when the smaller shares at least
  ``MIN_CONTAINMENT`` of its shingles with the other (a trimmed copy shares them all), the
  shared shingles are at least ``MIN_JACCARD`` of both together (a short article quoted in a
  long one is not its version), and, when both are dated, they are at most ``MAX_DAYS`` apart.
- Comparing every pair is out of the question at a million articles: a MinHash sketch of each
  article's shingles (datasketch) is cut into ``BANDS`` bands whose hashes are indexed as
  terms; only articles sharing a band are compared. That is part of the rule, so that the
  grouping never depends on the order articles came in: an *edge* joins two articles that
  share a band and pass the comparison, and a story is a connected group of edges.
- The lead of a story is its earliest dated version (undated ones come after every dated one;
  ties go to the smallest id); the story's id is its lead's id.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from search.analysis import fold

SHINGLE = 3
NUM_PERM = 64
BANDS = 32
ROWS = NUM_PERM // BANDS
MIN_CONTAINMENT = 0.7
MIN_JACCARD = 0.3
MAX_DAYS = 7
# sketches agreeing on fewer values are not compared further: pairs at MIN_JACCARD agree on
# 19 of 64 on average, and on fewer than 10 about once in 400; unrelated texts sharing 4% of
# their shingles reach 10 about once in 5,000
MIN_ESTIMATE = 10 / 64
# Bounds for corpora of near-identical texts (templates with few words of their own), where
# every article would be compared with thousands: a band shared by more articles than this
# finds no candidates, and of an article's candidates only this many, the most alike by their
# sketches, have their texts compared. Real news comes nowhere near either bound (Reuters'
# 1,973 earnings reports: no band reaches it); when one is reached, the grouping of those
# articles can depend on the order they came in.
MAX_BAND_HOLDERS = 200
MAX_COMPARED = 20
MIN_WORDS = 8  # a body shorter than this is compared with its headline in front
_WORD = re.compile(r"\w+")


def words_of(headline: str, body: str) -> list[str]:
    """The words the shingles are made of: the body's, lower-cased and folded; with the
    headline in front when the body has fewer than ``MIN_WORDS``."""
    words = _WORD.findall(fold(body.lower()))
    if len(words) < MIN_WORDS:
        words = _WORD.findall(fold(headline.lower())) + words
    return words


_MIX_A = np.uint64(0x9E3779B97F4A7C15)
_MIX_B = np.uint64(0xC2B2AE3D27D4EB4F)


def shingles(headline: str, body: str) -> frozenset[int]:
    """The article's shingles, each as a 32-bit hash: each word's CRC-32 (the same on every
    machine and in every process), three of them mixed into one with 64-bit multiplications
    (numpy, for a whole text at once). A text shorter than ``SHINGLE`` words is one
    shingle."""
    words = words_of(headline, body)
    if not words:
        return frozenset()
    h = np.fromiter(map(zlib.crc32, map(str.encode, words)), dtype=np.uint64, count=len(words))
    if len(h) < SHINGLE:
        h = np.concatenate([h, np.zeros(SHINGLE - len(h), dtype=np.uint64)])
    with np.errstate(over="ignore"):
        mixed = h[:-2] * _MIX_A + h[1:-1] * _MIX_B + h[2:]
        mixed ^= mixed >> np.uint64(29)
        mixed *= _MIX_A
    return frozenset((mixed >> np.uint64(32)).tolist())


@lru_cache(maxsize=1)
def _permutations():
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32").permutations


def sketch(hashes: Iterable[int]) -> np.ndarray:
    """The MinHash signature of a set of shingle hashes (``NUM_PERM`` values)."""
    from datasketch import MinHash

    m = MinHash(num_perm=NUM_PERM, seed=1, hashfunc=int, permutations=_permutations(),
                scheme="affine32")
    values = list(hashes)
    if values:
        m.update_batch(values)
    return m.hashvalues


def band_keys(signature: np.ndarray) -> list[int]:
    """The keys an article's sketch is looked up by: one per band, the band's number in the
    high bits and a CRC-32 of its rows in the low 32."""
    rows = np.asarray(signature, dtype=np.uint64).reshape(BANDS, ROWS)
    return [(i << 32) | zlib.crc32(row.tobytes()) for i, row in enumerate(rows)]


def article_sketch(headline: str, body: str) -> tuple[frozenset[int], bytes]:
    """(shingles, MinHash signature as bytes) of an article; no signature for an article
    without words."""
    hashes = shingles(headline, body)
    if not hashes:
        return hashes, b""
    return hashes, np.asarray(sketch(hashes), dtype="<u4").tobytes()


def bands_of(signature: bytes) -> tuple[int, ...]:
    """The band keys of a signature (none for an empty one)."""
    if not signature:
        return ()
    return tuple(band_keys(np.frombuffer(signature, dtype="<u4")))


def estimated_jaccard(a: bytes, b: bytes) -> float:
    """The share of equal values of two MinHash signatures: an estimate of their shingles'
    Jaccard similarity."""
    if not a or not b:
        return 0.0
    return float(np.count_nonzero(np.frombuffer(a, dtype="<u4") == np.frombuffer(b, dtype="<u4"))
                 ) / NUM_PERM


@dataclass(frozen=True)
class Similarity:
    jaccard: float  # shared shingles / all shingles of the two
    containment: float  # shared shingles / shingles of the smaller

    @property
    def same_text(self) -> bool:
        return self.containment >= MIN_CONTAINMENT and self.jaccard >= MIN_JACCARD


def similarity(a: frozenset[int], b: frozenset[int]) -> Similarity:
    if not a or not b:
        return Similarity(0.0, 0.0)
    shared = len(a & b)
    return Similarity(shared / (len(a) + len(b) - shared), shared / min(len(a), len(b)))


@dataclass(frozen=True)
class Version:
    """What the grouping needs of an article."""

    id: str
    date: dt.date | None
    shingles: frozenset[int]
    signature: bytes  # MinHash signature, NUM_PERM little-endian uint32 values
    bands: frozenset[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "bands", frozenset(bands_of(self.signature)))


def close_in_time(a: dt.date | None, b: dt.date | None) -> bool:
    return a is None or b is None or abs((a - b).days) <= MAX_DAYS


def same_story(a: Version, b: Version) -> bool:
    """Whether ``a`` and ``b`` are joined by an edge: they share a band, their dates are
    close, their sketches agree on at least ``MIN_ESTIMATE`` of their values, and their texts
    pass ``Similarity.same_text``. (The sketches' check costs a comparison of two small
    arrays where the texts' costs reading both: in a corpus of near-identical templates every
    article shares a band with thousands of others.)"""
    return not a.bands.isdisjoint(b.bands) and close_in_time(a.date, b.date) \
        and estimated_jaccard(a.signature, b.signature) >= MIN_ESTIMATE \
        and similarity(a.shingles, b.shingles).same_text


def lead_key(v: Version) -> tuple:
    """Sorts the lead first: earliest date, undated last, then the smallest id."""
    return (v.date is None, v.date or dt.date.min, v.id)


class Groups:
    """Union-find over article ids."""

    def __init__(self):
        self.parent: dict[str, str] = {}

    def add(self, item: str) -> None:
        self.parent.setdefault(item, item)

    def find(self, item: str) -> str:
        parent = self.parent
        root = item
        while parent[root] != root:
            root = parent[root]
        while parent[item] != root:
            parent[item], item = root, parent[item]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)

    def groups(self) -> list[list[str]]:
        out: dict[str, list[str]] = {}
        for item in self.parent:
            out.setdefault(self.find(item), []).append(item)
        return list(out.values())


def group(versions: Iterable[Version]) -> list[list[Version]]:
    """Every story among ``versions`` (each a list, lead first, then in lead order), by
    comparing the articles that share a band. The reference the incremental grouping of
    ``search.indexer`` must equal."""
    by_id = {v.id: v for v in versions}
    groups = Groups()
    by_band: dict[int, list[str]] = {}
    for v in by_id.values():
        groups.add(v.id)
        for band in v.bands:
            by_band.setdefault(band, []).append(v.id)
    compared: set[tuple[str, str]] = set()
    for ids in by_band.values():
        if len(ids) > MAX_BAND_HOLDERS + 1:
            continue
        for i, a in enumerate(ids):
            for b in ids[i + 1:]:
                pair = (a, b) if a < b else (b, a)
                if pair in compared:
                    continue
                compared.add(pair)
                if groups.find(a) != groups.find(b) and same_story(by_id[a], by_id[b]):
                    groups.union(a, b)
    return [sorted((by_id[i] for i in members), key=lead_key) for members in groups.groups()]
