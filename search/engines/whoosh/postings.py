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

Reading a common term from Whoosh's blocks costs about a microsecond a posting (each block is
a compressed pickle holding the positions too), a second for a term in most of a million
articles. So segments written by this project (``RankingCodec``) also carry a ``.rnk`` file:
each searchable field's terms with their document numbers and weights as plain arrays, which
read at memory speed. Segments without it (indexes written before) are read from the blocks.
"""

from __future__ import annotations

import math
import mmap
import os
import pickle
import struct
import sys
from array import array
from itertools import accumulate

import numpy as np
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3FieldWriter
from whoosh.columns import NumericColumn
from whoosh.filedb.filetables import HashReader, HashWriter
from whoosh.filedb.structfile import StructFile
from whoosh.matching.mcore import ListMatcher
from whoosh.reading import TermNotFound
from whoosh.util.numeric import byte_to_length

from search.engines.whoosh.segments import TermAtATime

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


# -- the .rnk side file ------------------------------------------------------------------------

RANK_EXT = ".rnk"
# the searchable fields (organisations and places from the files marked _ENTITIES_MARK on)
RANKED_FIELDS = frozenset({"headline", "body", "people", "section", "organizations", "places"})
POSITION_FIELDS = frozenset({"headline", "body"})  # their word positions too, for phrases
# fields a side file holds only when it carries _ENTITIES_MARK (files written before did not:
# their segments' postings of these fields are read from Whoosh's blocks)
_MARKED_FIELDS = frozenset({"organizations", "places"})
_LITTLE = sys.byteorder == "little"
# a key no (field, term) key can be (a field name is never empty): its presence says the file
# holds the positions of POSITION_FIELDS (files written before did not)
_POSITIONS_MARK = b"\x00\x00positions"
# and this one that it holds the postings of _MARKED_FIELDS: a facet table of an archive's
# extracted organisations (32,000 names at 20,000 articles) read them from Whoosh's blocks one
# matcher a name, seconds at every web worker's start
_ENTITIES_MARK = b"\x00\x00entities"


def _rank_key(field: str, btext: bytes) -> bytes:
    name = field.encode("utf-8")
    return struct.pack("<H", len(name)) + name + btext


def _positions_key(field: str, btext: bytes) -> bytes:
    return b"\x00\x00" + _rank_key(field, btext)


class RankingCodec(W3Codec):
    """Whoosh's whoosh3 codec, unchanged, plus the ``.rnk`` file of each segment it writes
    (new segments and merged ones alike: Whoosh writes both through ``field_writer``)."""

    def field_writer(self, storage, segment):
        return _RankingFieldWriter(self, storage, segment)


class _RankingFieldWriter(TermAtATime, W3FieldWriter):
    """Writes what Whoosh writes, and for ``RANKED_FIELDS`` each term's document numbers
    (uint32) and weights (float32, as Whoosh stores them), little-endian, under the key
    (field, term) in a Whoosh hash file, one more file of the segment. For
    ``POSITION_FIELDS`` also each term's positions: Whoosh's own encoded value of each
    posting, end to end, after the offsets (uint32, one more than the postings) where each
    begins, under ``_positions_key`` (copied as they come: nothing is decoded while writing)."""

    def __init__(self, codec, storage, segment):
        super().__init__(codec, storage, segment)
        self._rank = HashWriter(self._create_file(RANK_EXT), magic=b"RNK1")
        self._ranked = self._positioned = False
        self._ids = array("I")
        self._weights = array("f")
        self._values: list[bytes] = []

    def start_field(self, fieldname, fieldobj):
        super().start_field(fieldname, fieldobj)
        self._ranked = fieldname in RANKED_FIELDS
        self._positioned = fieldname in POSITION_FIELDS and fieldobj.format.supports("positions")

    def start_term(self, btext):
        super().start_term(btext)
        if self._ranked:
            self._ids = array("I")
            self._weights = array("f")
            self._values = []

    def add(self, docnum, weight, vbytes, length):  # once per posting: kept lean
        self._postwriter.add_posting(docnum, weight, vbytes, length)
        if self._ranked:
            self._ids.append(docnum)
            self._weights.append(weight)
            if self._positioned:
                self._values.append(vbytes or b"")

    def _term_postings(self, ids, weights, values):  # add_term's postings, all at once
        if self._ranked:
            self._ids = ids if _LITTLE else array("I", ids)
            self._weights = weights if _LITTLE else array("f", weights)
            if self._positioned:
                self._values = values

    def finish_term(self):
        super().finish_term()
        self._term_written()

    def _term_written(self):
        if self._ranked:
            ids, weights = self._ids, self._weights
            if not _LITTLE:
                ids.byteswap()
                weights.byteswap()
            self._rank.add(_rank_key(self._fieldname, self._btext),
                           ids.tobytes() + weights.tobytes())
            if self._positioned:
                offsets = array("I", [0])
                offsets.extend(accumulate(map(len, self._values)))
                if not _LITTLE:
                    offsets.byteswap()
                self._rank.add(_positions_key(self._fieldname, self._btext),
                               offsets.tobytes() + b"".join(self._values))

    def close(self):
        self._rank.add(_POSITIONS_MARK, b"1")
        self._rank.add(_ENTITIES_MARK, b"1")
        self._rank.close()
        super().close()


def _side_file(sub):
    """The ``.rnk`` hash file of a segment reader (opened once per reader), or None for a
    segment written without one."""
    try:
        return sub._rank_side
    except AttributeError:
        pass
    segment = getattr(sub, "_segment", None)
    storage = getattr(sub, "_storage", None)
    side = None
    if segment is not None and storage is not None:
        name = segment.make_filename(RANK_EXT)
        if storage.file_exists(name):
            dbfile, views = _mapped(storage, name)
            side = HashReader(dbfile, storage.file_length(name), magic=b"RNK1")
            side.views = views
    sub._rank_side = side
    return side


def _mapped(storage, name: str):
    """(the file ``name`` of ``storage`` to read with ``HashReader``, a mapping of it to take
    values from without copying them, or None). A plain file is mapped into memory and its
    descriptor closed at once (the mapping lives as long as the reader and leaves no open file
    to close with it); inside a compound segment file it is Whoosh's own view of it, read by
    copying.

    Values are read as views of a second mapping, which is never closed but by the garbage
    collector: arrays made from them (a common word's positions, megabytes at 200,000
    articles, copied 30,000 times a minute by phrase searches before) may outlive the reader,
    and a mapping closed under them would fail."""
    folder = getattr(storage, "folder", None)
    if folder is not None:
        with open(os.path.join(folder, name), "rb") as fh:
            dbfile = StructFile(mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ), name=name)
            views = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        return dbfile, views
    return storage.open_file(name), None


def _value(side, key: bytes):
    """The value of ``key`` in a side file (a view of its mapping when there is one), or
    None."""
    views = side.views
    if views is None:
        return side.get(key)
    for pos, length in side.ranges_for_key(key):
        return memoryview(views)[pos:pos + length]
    return None


def _side_postings(side, field: str, text) -> tuple[np.ndarray, np.ndarray] | None:
    btext = text.encode("utf-8") if isinstance(text, str) else text
    raw = _value(side, _rank_key(field, btext))
    if raw is None:
        return None
    n = len(raw) // 8
    return (np.frombuffer(raw, dtype="<u4", count=n),
            np.frombuffer(raw, dtype="<f4", count=n, offset=4 * n))


def _positioned_side(sub):
    """The segment's side file if it keeps positions (files written before did not), else
    None; asked once per segment reader."""
    try:
        return sub._rank_positions
    except AttributeError:
        side = _side_file(sub)
        sub._rank_positions = side if side is not None and side.get(_POSITIONS_MARK) else None
        return sub._rank_positions


def _entity_side(sub) -> bool:
    """Whether the segment's side file holds the postings of ``_MARKED_FIELDS``; asked once
    per segment reader."""
    try:
        return sub._rank_entities
    except AttributeError:
        side = _side_file(sub)
        sub._rank_entities = bool(side is not None and side.get(_ENTITIES_MARK))
        return sub._rank_entities


def segment_positions(sub, field: str, text):
    """A term's postings with their positions in one segment reader: (document numbers of the
    segment, offsets, encoded values); None when the term is not in the segment; ``False``
    when the segment has no positions of its own (written before they were kept)."""
    side = _positioned_side(sub)
    if side is None or field not in POSITION_FIELDS:
        return False
    btext = text.encode("utf-8") if isinstance(text, str) else text
    found = _side_postings(side, field, btext)
    raw = _value(side, _positions_key(field, btext))
    if found is None or raw is None:
        return None
    n = len(found[0])
    offsets = np.frombuffer(raw, dtype="<u4", count=n + 1)
    return found[0], offsets, memoryview(raw)[4 * (n + 1):]


def has_positions(reader, field: str) -> bool:
    """Whether every segment of ``reader`` keeps the positions of ``field`` in its side file."""
    return field in POSITION_FIELDS and \
        all(_positioned_side(sub) is not None for sub, _ in reader.leaf_readers())


def decode_positions(values, offsets, i: int) -> list[int]:
    """The positions of posting ``i`` (Whoosh's ``Positions`` value: a count, then pickled
    deltas whose final STOP byte Whoosh may leave out)."""
    value = bytes(values[offsets[i] + 4:offsets[i + 1]])
    if not value.endswith(b"."):
        value += b"."
    return list(accumulate(pickle.loads(value)))


def term_postings(reader, field: str, text) -> tuple[np.ndarray, np.ndarray]:
    """Every posting of ``text`` in ``field``: (document numbers, weights), in document order.

    Document numbers are the reader's (segment offsets added). Deleted documents are included:
    mask the result with the live documents.
    """
    doc_parts: list[np.ndarray] = []
    weight_parts: list[np.ndarray] = []
    for sub, offset in reader.leaf_readers():
        side = _side_file(sub) if field in RANKED_FIELDS else None
        if side is not None and field in _MARKED_FIELDS and not _entity_side(sub):
            side = None
        if side is not None:
            found = _side_postings(side, field, text)
            if found is not None:
                doc_parts.append(found[0].astype(np.int64) + offset)
                weight_parts.append(found[1])
            continue
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


def numeric_column(column, n: int) -> np.ndarray | None:
    """The ``n`` values of a Whoosh ``NumericColumn`` reader as one array read straight from
    its fixed-width, big-endian bytes (the reader's ``__getitem__`` unpacks one value per call,
    seconds at a million documents); None for any other kind of column reader."""
    if not isinstance(column, NumericColumn.Reader):
        return None
    dtype = np.dtype(column._typecode).newbyteorder(">")
    count = min(column._count, n)
    values = np.frombuffer(column._dbfile.get(column._basepos, count * column._fixedlen),
                           dtype=dtype, count=count)
    out = np.full(n, column._default, dtype=dtype.newbyteorder("="))
    out[:count] = values
    return out


def field_lengths(reader, field: str) -> np.ndarray:
    """The length of ``field`` in every document, quantised as Whoosh stores it (float32)."""
    out = np.zeros(reader.doc_count_all(), dtype=np.float32)
    for sub, offset in reader.leaf_readers():
        n = sub.doc_count_all()
        perdoc = getattr(sub, "_perdoc", None)
        column = perdoc._cached_reader(f"_{field}_len", LENGTHS_COLUMN) \
            if perdoc is not None and hasattr(perdoc, "_cached_reader") else None
        raw = numeric_column(column, n)
        if raw is not None:
            out[offset:offset + n] = _LENGTH_OF_BYTE[raw]
        elif column is not None:
            raw = np.fromiter((column[i] for i in range(n)), dtype=np.uint8, count=n)
            out[offset:offset + n] = _LENGTH_OF_BYTE[raw]
        else:
            out[offset:offset + n] = [sub.doc_field_length(i, field) or 0 for i in range(n)]
    return out


def idf(reader, field: str, text, doc_frequency: int | None = None) -> float:
    """Whoosh's inverse document frequency (``scoring.WeightingModel.idf``). Give
    ``doc_frequency`` when the term's postings are at hand: their number (deleted documents
    included, as ``term_postings`` returns them) is what Whoosh reads from each segment's term
    table, one hash look-up a segment."""
    if doc_frequency is None:
        doc_frequency = reader.doc_frequency(field, text)
    return math.log(reader.doc_count_all() / (doc_frequency + 1)) + 1


def avg_field_length(reader, field: str) -> float:
    """Whoosh's ``Searcher.avg_field_length``: total length over all document numbers."""
    return reader.field_length(field) / (reader.doc_count_all() or 1)


def bm25(weights: np.ndarray, lengths: np.ndarray, idf_value: float, avgfl: float) -> np.ndarray:
    """Whoosh's ``scoring.bm25`` over arrays of term weights and field lengths."""
    avgfl = avgfl or 1.0
    return idf_value * ((weights * (K1 + 1)) / (weights + K1 * ((1 - B) + B * lengths / avgfl)))
