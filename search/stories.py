"""Stories: the copies and versions of one article, grouped.

A wire story is printed many times: the agency's first take, its updates, clients' copies with
a new headline, a dateline, a trimmed ending, a few edits or a correction added. This module
decides which articles are versions of one another; ``search.story_keeper`` keeps the grouping
in the archive as articles come and go, on either engine, and searches show one hit per story.

How two articles are compared:

- Each article's text (its body; the headline too when the body is a few words) becomes its
  set of *shingles*: every run of ``SHINGLE`` words, lower-cased and folded ("Café" = "cafe"),
  numbers kept, each as a 32-bit hash. Copies share most of their shingles; different
  articles on one topic share few; templated reports ("Shr 51 cts vs 38 cts ...") share
  their template's words but hardly a run of three words, since almost every run holds one
  of their own numbers.
- Two articles are versions of one story when the smaller shares at least
  ``MIN_CONTAINMENT`` of its shingles with the other (a trimmed copy shares them all), the
  shared shingles are at least ``MIN_JACCARD`` of both together (a short article quoted in a
  long one is not its version), and, when both are dated, they are at most ``MAX_DAYS`` apart.
- Comparing every pair is out of the question at a million articles: a MinHash sketch of each
  article's shingles (datasketch's MinHash) is cut into ``BANDS`` bands, each made a 64-bit
  key (the Whoosh engine's ``BandStore`` keeps them, the Xapian engine's documents hold them);
  only articles sharing a band, close in time, whose sketches agree on ``MIN_ESTIMATE`` of
  their values, have their shingles compared. Sharing a band is part of the rule, so that the
  grouping never depends on the order articles came in: an *edge* joins two articles that
  share a band and pass the comparison, and a story is a connected group of edges.
- The lead of a story is its earliest dated version (undated ones come after every dated one;
  ties go to the smallest id); the story's id is its lead's id.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from search.analysis import fold

# the version of the shingles, sketches and band keys below: sketches stored by another
# version are made again from the stored articles (search.engines.whoosh.story_index)
SKETCHES = 2
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


def words_of(headline: str, body: str) -> bytes:
    """The words the shingles are made of, as UTF-8 separated by spaces: the body's,
    lower-cased, then folded; with the headline in front when the body has fewer than
    ``MIN_WORDS``. (The words are the ``\\w+`` runs of the text: in an ASCII text, found
    with a translation table, five times faster.)"""
    words = _words(body)
    if _count(words) < MIN_WORDS:
        words = _words(headline) + b" " + words
    return words


# every ASCII byte that is not a word character (``\w``) made a space
_NOT_WORD = bytes(c if chr(c).isascii() and (chr(c).isalnum() or c == ord("_")) else 32
                  for c in range(256))


def _words(text: str) -> bytes:
    text = text.lower()
    if text.isascii():
        return text.encode("ascii").translate(_NOT_WORD)
    # folding costs more than finding the words: only words outside ASCII are folded
    return " ".join(w if w.isascii() else fold(w) for w in _WORD.findall(text)).encode()


def _count(words: bytes) -> int:
    return len(words.split(None, MIN_WORDS))


# Each word's hash: the polynomial sum(byte_j * P**j) modulo 2**64 of its bytes (P odd), for a
# whole text at once from the prefix sums of byte_j * P**j: a word from j0 to j1 is
# (S[j1] - S[j0]) * P**-j0 (every odd number has an inverse modulo 2**64). Texts are taken a
# span at a time, cut at spaces, so the tables stay small (a word longer than a span counts
# as its pieces).
_P = 0x100000001B3
_SPAN = 1 << 16


@lru_cache(maxsize=1)
def _powers() -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(over="ignore"):
        up = np.cumprod(np.full(_SPAN + 1, _P, dtype=np.uint64))
        down = np.cumprod(np.full(_SPAN + 1, pow(_P, -1, 1 << 64), dtype=np.uint64))
    one = np.ones(1, dtype=np.uint64)
    return np.concatenate([one, up[:-1]]), np.concatenate([one, down[:-1]])


def word_hash(word: bytes) -> int:
    """One word's hash, as ``word_hashes`` gives it (the reference the tests compare with)."""
    return sum(b * pow(_P, j, 1 << 64) for j, b in enumerate(word)) % (1 << 64)


def word_hashes(words: bytes) -> np.ndarray:
    """The hash of every word of ``words`` (space-separated bytes), in order (uint64)."""
    out = []
    up, down = _powers()
    start = 0
    while start < len(words):
        end = len(words)
        if end - start > _SPAN:
            end = words.rfind(b" ", start, start + _SPAN) + 1 or start + _SPAN
        c = np.frombuffer(words, dtype=np.uint8, count=end - start, offset=start)
        edges = np.flatnonzero(np.diff((c != 32).view(np.int8), prepend=0, append=0))
        first, last = edges[0::2], edges[1::2]
        with np.errstate(over="ignore"):
            sums = np.concatenate([np.zeros(1, dtype=np.uint64),
                                   np.cumsum(c * up[:len(c)], dtype=np.uint64)])
            out.append((sums[last] - sums[first]) * down[first])
        start = end
    return np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)


_MIX_A = np.uint64(0x9E3779B97F4A7C15)
_MIX_B = np.uint64(0xC2B2AE3D27D4EB4F)
_EMPTY = np.zeros(0, dtype=np.uint32)


def _mixed(h: np.ndarray) -> np.ndarray:
    """Each run of three word hashes (uint64) mixed into one 32-bit shingle hash."""
    with np.errstate(over="ignore"):
        mixed = h[:-2] * _MIX_A + h[1:-1] * _MIX_B + h[2:]
        mixed ^= mixed >> np.uint64(29)
        mixed *= _MIX_A
    return (mixed >> np.uint64(32)).astype(np.uint32)


def shingles(headline: str, body: str) -> np.ndarray:
    """The article's shingles, each as a 32-bit hash, sorted, each once: each word's hash
    (``word_hashes``: the same on every machine and in every process), three of them mixed
    into one with 64-bit multiplications (numpy, for a whole text at once). A text shorter
    than ``SHINGLE`` words is one shingle."""
    h = word_hashes(words_of(headline, body))
    if not len(h):
        return _EMPTY
    if len(h) < SHINGLE:
        h = np.concatenate([h, np.zeros(SHINGLE - len(h), dtype=np.uint64)])
    hashes = _mixed(h)
    hashes.sort()
    # each once (np.unique costs five times more on a thousand values)
    return hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]


@lru_cache(maxsize=1)
def _permutations() -> tuple[np.ndarray, np.ndarray]:
    """datasketch's "affine32" permutations for seed 1 (``MinHash(num_perm=NUM_PERM, seed=1,
    scheme="affine32").permutations``), drawn as it draws them: an odd ``a`` and a ``b`` per
    permutation from NumPy's legacy ``RandomState``, whose stream NumPy keeps unchanged.
    Importing datasketch for them cost every ingest 1.1-1.7 s (it imports scipy; 4.4-4.8 s on a
    loaded machine); ``tests/test_stories.py`` checks they are datasketch's."""
    gen = np.random.RandomState(1)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35),
           np.uint32(16))
_CHUNK = 1 << 14  # shingles permuted at a time (a 10-million-character body has 1.5 million)


def sketch(hashes: np.ndarray) -> np.ndarray:
    """The MinHash signature of a set of shingle hashes (``NUM_PERM`` uint32 values).

    The sketch is datasketch's ``MinHash`` with the "affine32" scheme (its permutations, seed
    1): each hash pre-mixed with the MurmurHash3 finalizer, then ``a * h + b`` in 32 bits for
    each permutation, the least kept. It is computed here on the whole array at once, since
    ``MinHash.update_batch`` calls a hash function per value in Python (a quarter of the
    cost); ``tests/test_stories.py`` checks the two agree."""
    a, b = _permutations()
    h = _premix(np.array(hashes, dtype=np.uint32))
    out = np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    with np.errstate(over="ignore"):
        for i in range(0, len(h), _CHUNK):
            # a row a permutation: the least of each row is read along memory
            part = a[:, None] * h[i:i + _CHUNK]
            part += b[:, None]
            np.minimum(out, part.min(axis=1), out=out)
    return out


_BAND_SALT = np.arange(1, BANDS + 1, dtype=np.uint64) * _MIX_B


def band_keys(signatures: np.ndarray) -> np.ndarray:
    """The keys sketches are looked up by: for each signature (a row of ``signatures``), one
    64-bit key per band, mixed from the band's rows and its number."""
    rows = np.asarray(signatures, dtype=np.uint64).reshape(-1, BANDS, ROWS)
    with np.errstate(over="ignore"):
        keys = _BAND_SALT + np.zeros(rows.shape[:2], dtype=np.uint64)
        for r in range(ROWS):
            keys = keys * _MIX_A + rows[..., r]
            keys ^= keys >> np.uint64(31)
        keys *= _MIX_B
        keys ^= keys >> np.uint64(29)
    return keys


def _premix(h: np.ndarray) -> np.ndarray:
    """The MurmurHash3 finalizer ``sketch`` applies to each hash first (in place)."""
    s1, m1, s2, m2, s3 = _FMIX32
    with np.errstate(over="ignore"):
        h ^= h >> s1
        h *= m1
        h ^= h >> s2
        h *= m2
        h ^= h >> s3
    return h


def _groups(texts: list[tuple[str, str]]):
    """The texts' words in groups made together: yields (rows, their words' hashes), and
    (row, None) for a text to be made alone (fewer than ``SHINGLE`` words, or a text of several
    spans); texts without words are left out."""
    group: list[int] = []
    words: list[bytes] = []
    size = 0
    for k, (headline, body) in enumerate(texts):
        w = words_of(headline, body)
        n = len(w.split(None, SHINGLE - 1))
        if n == 0:
            continue
        if n < SHINGLE or len(w) >= _SPAN:
            yield [k], None
            continue
        if size + len(w) + 1 > _SPAN:
            yield group, words
            group, words, size = [], [], 0
        group.append(k)
        words.append(w)
        size += len(w) + 1
    if group:
        yield group, words


def _grouped_shingles(words: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """The shingles (as ``shingles`` makes them, unsorted, repeated) of texts of three words
    or more, together under ``_SPAN`` bytes: ``word_hashes`` of them joined by spaces, shingles
    within each text; and the text of each (in order)."""
    joined = b" ".join(words)
    h = word_hashes(joined)
    # each word's text: the texts' starts in bytes, against the words' starts
    c = np.frombuffer(joined, dtype=np.uint8)
    starts = np.flatnonzero(np.diff((c != 32).view(np.int8), prepend=0) == 1)
    text_starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]])
    text = np.searchsorted(text_starts, starts, side="right") - 1
    within = text[:-2] == text[2:]  # a shingle's three words are of one text
    return _mixed(h)[within], text[:-2][within]


def signatures(texts: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """The MinHash signatures of many articles' (headline, body) at once: (one a row, all
    zeros for an article without words; whether each has one). Each equals
    ``article_sketch``'s (``tests/test_stories.py``); made with a few numpy calls for a group
    of articles together (up to ``_SPAN`` bytes of words), where one article at a time pays
    numpy's fixed cost per call a dozen times over (80-136 against about 35 microseconds an
    article of 1,200 characters). A signature needs no sorted shingles: a repeated one changes no
    minimum."""
    out = np.zeros((len(texts), NUM_PERM), dtype=np.uint32)
    signed = np.zeros(len(texts), dtype=bool)
    a, b = _permutations()
    for rows, words in _groups(texts):
        signed[rows] = True
        if words is None:
            out[rows[0]] = sketch(shingles(*texts[rows[0]]))
            continue
        hashes, owner = _grouped_shingles(words)
        hashes = _premix(hashes)
        first = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1])))
        with np.errstate(over="ignore"):
            part = a[:, None] * hashes
            part += b[:, None]
        out[rows] = np.minimum.reduceat(part, first, axis=1).T
    return out, signed


def many_shingles(texts: list[tuple[str, str]]) -> list[np.ndarray]:
    """``shingles`` of many articles' (headline, body), made a group at a time (as
    ``signatures``)."""
    out = [_EMPTY] * len(texts)
    for rows, words in _groups(texts):
        if words is None:
            out[rows[0]] = shingles(*texts[rows[0]])
            continue
        hashes, owner = _grouped_shingles(words)
        keyed = np.sort((owner.astype(np.uint64) << np.uint64(32)) | hashes)
        keyed = keyed[np.concatenate(([True], keyed[1:] != keyed[:-1]))]
        cuts = np.searchsorted(keyed >> np.uint64(32), np.arange(1, len(rows)))
        for row, part in zip(rows, np.split(keyed, cuts)):
            out[row] = part.astype(np.uint32)
    return out


def article_sketch(headline: str, body: str) -> tuple[np.ndarray, np.ndarray]:
    """(shingles, MinHash signature) of an article; an empty signature for an article without
    words."""
    hashes = shingles(headline, body)
    if not len(hashes):
        return hashes, _EMPTY
    return hashes, sketch(hashes)


def estimated_jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The share of equal values of two MinHash signatures: an estimate of their shingles'
    Jaccard similarity."""
    if not len(a) or not len(b):
        return 0.0
    return float(np.count_nonzero(a == b)) / NUM_PERM


@dataclass(frozen=True)
class Similarity:
    jaccard: float  # shared shingles / all shingles of the two
    containment: float  # shared shingles / shingles of the smaller

    @property
    def same_text(self) -> bool:
        return self.containment >= MIN_CONTAINMENT and self.jaccard >= MIN_JACCARD


def similarity(a: np.ndarray, b: np.ndarray) -> Similarity:
    """Of two articles' shingles (sorted, each once)."""
    if not len(a) or not len(b):
        return Similarity(0.0, 0.0)
    if a is b:
        return Similarity(1.0, 1.0)
    shared = len(np.intersect1d(a, b, assume_unique=True))
    return Similarity(shared / (len(a) + len(b) - shared), shared / min(len(a), len(b)))


class Version:
    """What the grouping needs of an article: its id, date and MinHash signature (``_EMPTY``
    without words); its shingles, given or made from ``text`` (headline, body) when first
    needed: most articles are never compared with another."""

    def __init__(self, id: str, date: dt.date | None, shingles: np.ndarray | None = None,
                 signature: np.ndarray = _EMPTY, text: tuple[str, str] | None = None):
        self.id = id
        self.date = date
        self.signature = signature
        self._shingles = shingles
        self.text = text

    @property
    def shingles(self) -> np.ndarray:  # uint32, sorted, each once
        if self._shingles is None:
            self._shingles = shingles(*self.text) if self.text else _EMPTY
        return self._shingles

    @cached_property
    def bands(self) -> frozenset[int]:
        return frozenset(band_keys(self.signature)[0].tolist()) if len(self.signature) \
            else frozenset()

    def __repr__(self) -> str:
        return f"Version({self.id!r}, {self.date!r})"


def make_shingles(versions: Iterable[Version]) -> None:
    """Make the shingles of those of ``versions`` that have none yet, together (see
    ``many_shingles``)."""
    todo = list({id(v): v for v in versions if v._shingles is None and v.text}.values())
    for v, made in zip(todo, many_shingles([v.text for v in todo])):
        v._shingles = made


def close_in_time(a: dt.date | None, b: dt.date | None) -> bool:
    return a is None or b is None or abs((a - b).days) <= MAX_DAYS


def same_story(a: Version, b: Version, share_band: bool = False) -> bool:
    """Whether ``a`` and ``b`` are joined by an edge: they share a band, their dates are
    close, their sketches agree on at least ``MIN_ESTIMATE`` of their values, and their texts
    pass ``Similarity.same_text``. (The sketches' check costs a comparison of two small
    arrays where the texts' costs reading both: in a corpus of near-identical templates every
    article shares a band with thousands of others.) ``share_band``: they are known to (found
    by a band they share)."""
    return (share_band or not a.bands.isdisjoint(b.bands)) and close_in_time(a.date, b.date) \
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
    ``search.story_keeper`` must equal."""
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
