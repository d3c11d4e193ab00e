"""Whole posting lists and field lengths as numpy arrays, for ranking without Whoosh's matchers.

Whoosh scores a query by walking its matcher tree one posting at a time in Python. Ranking the
relevance page that way costs most of a search on a large archive. These helpers read a term's
postings a block at a time (each block is one pickled tuple of ids and weights) and a field's
per-document lengths from its length column, so that ``bm25`` can score every matched document
in a few numpy operations with the same formula, statistics and length quantisation as Whoosh's
``BM25F``.

They read the on-disk structures of the whoosh3 codec (``W3LeafMatcher`` blocks, the ``_<field>_len``
column), which is why whoosh3 is pinned exactly; ``tests/test_ranking.py`` checks the scores
against Whoosh's own for every kind of query the service ranks.
"""

from __future__ import annotations

import math

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.matching.mcore import ListMatcher
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

B = 0.75  # Whoosh's BM25F defaults, which the service uses
K1 = 1.2

_EMPTY = (np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32))
_LENGTH_OF_BYTE = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)


def _leaf(matcher):
    # a segment with deletions wraps its matcher in a FilterMatcher; deleted documents are
    # masked by the caller, so read the raw postings underneath
    while not isinstance(matcher, ListMatcher) and not hasattr(matcher, "_read_ids") \
            and hasattr(matcher, "child"):
        matcher = matcher.child
    return matcher


def term_postings(reader, field: str, text) -> tuple[np.ndarray, np.ndarray]:
    """Every posting of ``text`` in ``field``: (document numbers, weights), in document order.

    Document numbers are the reader's (segment offsets added). Deleted documents are included:
    mask the result with the live documents.
    """
    doc_parts: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    for sub, offset in reader.leaf_readers():
        try:
            m = _leaf(sub.postings(field, text))
        except TermNotFound:
            continue
        if isinstance(m, ListMatcher):
            ids = np.asarray(m._ids, dtype=np.int64)
            weights = (np.asarray(m._weights, dtype=np.float32) if m._weights is not None
                       else np.ones(len(ids), dtype=np.float32))
            doc_parts.append(ids + offset)
            weight_parts.append(weights)
            continue
        if not hasattr(m, "_read_ids"):  # an unknown matcher: the slow, public way
            ids, weights = [], []
            while m.is_active():
                ids.append(m.id())
                weights.append(m.weight())
                m.next()
            doc_parts.append(np.asarray(ids, dtype=np.int64) + offset)
            weight_parts.append(np.asarray(weights, dtype=np.float32))
            continue
        while m.is_active():
            m._read_ids()
            m._read_weights()
            doc_parts.append(np.asarray(m._ids, dtype=np.int64) + offset)
            weight_parts.append(np.asarray(m._weights, dtype=np.float32))
            m._next_block()
    if not doc_parts:
        return _EMPTY
    return (np.concatenate(doc_parts).astype(np.int32),
            np.concatenate(weight_parts).astype(np.float32))


def field_lengths(reader, field: str) -> np.ndarray:
    """The length of ``field`` in every document, quantised as Whoosh stores it (float32)."""
    out = np.zeros(reader.doc_count_all(), dtype=np.float32)
    for sub, offset in reader.leaf_readers():
        n = sub.doc_count_all()
        perdoc = getattr(sub, "_perdoc", None)
        column = perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN) \
            if perdoc is not None and hasattr(perdoc, "_cached_reader") else None
        if column is not None:
            raw = np.fromiter((column[i] for i in range(n)), dtype=np.uint8, count=n)
            out[offset:offset + n] = _LENGTH_OF_BYTE[raw]
        else:
            out[offset:offset + n] = [sub.doc_field_length(i, field) or 0 for i in range(n)]
    return out


def idf(reader, field: str, text) -> float:
    """Whoosh's inverse document frequency (``scoring.WeightingModel.idf``)."""
    return math.log(reader.doc_count_all() / (reader.doc_frequency(field, text) + 1)) + 1


def avg_field_length(reader, field: str) -> float:
    """Whoosh's ``Searcher.avg_field_length``: total length over all document numbers."""
    return reader.field_length(field) / (reader.doc_count_all() or 1)


def bm25(weights: np.ndarray, lengths: np.ndarray, idf_value: float, avgfl: float) -> np.ndarray:
    """Whoosh's ``scoring.bm25`` over arrays of term weights and field lengths."""
    avgfl = avgfl or 1.0
    return idf_value * ((weights * (K1 + 1)) / (weights + K1 * ((1 - B) + B * lengths / avgfl)))
