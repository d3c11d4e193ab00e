"""Segments written a term at a time: the postings of a batch gathered per term as arrays.

Whoosh's ``SegmentWriter`` turns every posting into a tuple, puts it in a sorting pool, sorts
all of them, and then hands them one by one to the codec, which looks each document's field
length up again and appends the posting to a block. At about 270 distinct words an article
that is most of the cost of indexing. ``ArraySegmentWriter`` writes the same files: each
field's postings are gathered under their term as they come (document numbers only grow, so
nothing needs sorting but the terms), and at the end each term's postings are written a whole
block at a time (``_RankingFieldWriter.add_term``). The blocks, term infos and side files are
the ones Whoosh writes (``tests/test_segments.py`` compares them file by file).

Only what this project's schemas use is supported: fields with term vectors or separate
spelling words (neither is in any of its schemas) make ``supports`` say no, and the indexer
then uses Whoosh's own writer.
"""

from __future__ import annotations

import zlib
from array import array
from pickle import dumps

from whoosh.codec.base import FieldWriter
from whoosh.codec.whoosh3 import (COMPRESSION_MIN_SIZE, WHOOSH3_HEADER_MAGIC, W3PostingsWriter,
                                  W3TermInfo)
from whoosh.system import pack_int, pack_long, pack_ushort
from whoosh.util.numeric import length_to_byte
from whoosh.util.numlists import delta_encode
from whoosh.writing import SegmentWriter


def supports(schema) -> bool:
    """Whether ``ArraySegmentWriter`` can write segments of ``schema``."""
    return not any(field.vector or field.separate_spelling() for _, field in schema.items())


class _TermPool:
    """What Whoosh's ``PostingPool`` is to its writer, without the sorting: {field: {term:
    (document numbers, weights, values)}}. Postings must come in document order per term,
    which both of the writer's sources (new documents, merged segments) keep."""

    def __init__(self):
        self.fields: dict[str, dict[bytes, tuple[array, array, list]]] = {}
        self.fieldnames: set[str] = set()
        self.runs: list = []  # no sorted runs on disk: nothing to merge or clean up

    def terms(self, fieldname: str) -> dict:
        terms = self.fields.get(fieldname)
        if terms is None:
            terms = self.fields[fieldname] = {}
            self.fieldnames.add(fieldname)
        return terms

    def add(self, item) -> None:  # Whoosh's interface: a merged segment's postings
        fieldname, btext, docnum, weight, value = item
        terms = self.terms(fieldname)
        postings = terms.get(btext)
        if postings is None:
            postings = terms[btext] = (array("I"), array("f"), [])
        postings[0].append(docnum)
        postings[1].append(weight)
        postings[2].append(value or b"")

    def iter_postings(self):
        for fieldname in sorted(self.fields):
            terms = self.fields[fieldname]
            for btext in sorted(terms):
                ids, weights, values = terms[btext]
                for docnum, weight, value in zip(ids, weights, values):
                    yield fieldname, btext, docnum, weight, value

    def save(self) -> None:
        pass

    def reduce_to(self, target, k) -> None:
        pass

    def cleanup(self) -> None:
        self.fields = {}


class ArraySegmentWriter(SegmentWriter):
    """Whoosh's ``SegmentWriter`` (same arguments, same files), gathering postings per term
    and writing them a term at a time. Its codec's field writer must have ``add_term``
    (``search.engines.whoosh.postings.RankingCodec``'s has)."""

    def __init__(self, ix, **kwargs):
        super().__init__(ix, **kwargs)
        if not supports(self.schema):
            self.cancel()
            raise ValueError("ArraySegmentWriter cannot write term vectors or spelling words")
        self.pool = _TermPool()

    def add_document(self, **fields):
        self._check_state()
        schema = self.schema
        docnum = self.docnum
        pool = self.pool
        perdoc = self.perdocwriter
        docboost = self._doc_boost(fields)
        names = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, names)
        perdoc.start_doc(docnum)
        try:
            for name in names:
                value = fields[name]
                if value is None:
                    continue
                field = schema[name]
                length = 0
                if field.indexed:
                    boost = self._field_boost(fields, name, docboost)
                    scorable = field.scorable
                    terms = pool.terms(name)
                    for btext, freq, weight, vbytes in field.index(value):
                        if scorable:
                            length += freq
                        postings = terms.get(btext)
                        if postings is None:
                            postings = terms[btext] = (array("I"), array("f"), [])
                        postings[0].append(docnum)
                        postings[1].append(weight * boost)
                        postings[2].append(vbytes or b"")
                stored = fields.get(f"_stored_{name}", value)
                perdoc.add_field(name, field, stored if field.stored else None, length)
                if field.column_type and stored is not None:
                    perdoc.add_column_value(name, field.column_type,
                                            field.to_column_value(stored))
        except ValueError:
            perdoc.cancel_doc()
            raise
        perdoc.finish_doc()
        self._added = True
        self.docnum += 1

    def _flush_segment(self):
        self.perdocwriter.close()
        lengths = self.per_document_reader()
        fieldwriter = self.fieldwriter
        try:
            for name in sorted(self.pool.fields):
                terms = self.pool.fields[name]
                field = self.schema[name]
                # each document's field length as the codec reads it back (a byte); None
                # where there is none, as Whoosh's own writer passes it on
                read = lengths.doc_field_length_reader(name)
                known = [read(d) for d in range(self.docnum)]
                fieldwriter.start_field(name, field)
                for btext in sorted(terms):
                    ids, weights, values = terms[btext]
                    fieldwriter.add_term(btext, ids, weights, values, known)
                fieldwriter.finish_field()
            fieldwriter.close()
        finally:
            lengths.close()


class TermAtATime(FieldWriter):
    """Mixed into a whoosh3 field writer: ``add_term`` writes a term's postings in whole
    blocks, exactly as its ``add`` one posting at a time would; a term with one block (most
    terms) is written directly, without the posting writer's per-block objects."""

    def add_term(self, btext: bytes, ids: array, weights: array, values: list,
                 lengths: list) -> None:
        posts = self._postwriter
        limit = posts._blocklimit
        total = len(ids)
        if total <= limit and type(posts) is W3PostingsWriter and not posts._byteids:
            self._btext = btext
            self._tindex.add(pack_ushort(self._fieldid) + btext,
                             self._one_block(ids, weights, values, lengths))
            self._term_postings(ids, weights, values)
            self._term_written()
            return
        self.start_term(btext)
        for start in range(0, total, limit):
            end = min(start + limit, total)
            block_ids = ids[start:end]
            block_weights = weights[start:end]
            posts._ids = block_ids
            posts._weights = block_weights
            posts._values = [v for v in values[start:end] if v]
            posts._maxweight = max(0, max(block_weights))
            found = [n for n in map(lengths.__getitem__, block_ids) if n]
            posts._minlength = min(found) if found else None
            posts._maxlength = max(found) if found else 0
            if end < total:
                posts._write_block()
        self._term_postings(ids, weights, values)
        self.finish_term()

    def _one_block(self, ids: array, weights: array, values: list, lengths: list) -> bytes:
        """Write a term's postings as one (last) block, as ``W3PostingsWriter`` does; return
        the term's ``W3TermInfo`` bytes."""
        posts = self._postwriter
        found = [n for n in map(lengths.__getitem__, ids) if n]
        minlength = min(found) if found else None
        maxlength = max(found) if found else 0
        maxweight = max(0, max(weights))
        first = weights[0]
        if all(w == 1.0 for w in weights):
            mini_weights = None
        elif all(w == first for w in weights):
            mini_weights = first
        else:
            mini_weights = tuple(weights)
        kept = [v for v in values if v]
        fixed = self._format.fixed_value_size()
        if fixed is None or fixed < 0:
            mini_values = tuple(kept)
        elif fixed == 0:
            mini_values = None
        else:
            mini_values = b"".join(kept)
        data = dumps((tuple(delta_encode(ids)), mini_weights, mini_values), 2)
        comp = posts._compression if len(data) >= COMPRESSION_MIN_SIZE else 0
        if comp:
            data = zlib.compress(data, comp)
        info = dumps((len(ids), ids[-1], maxweight, comp, length_to_byte(minlength),
                      length_to_byte(maxlength)), 2)
        postfile = posts._postfile
        offset = postfile.tell()
        postfile.write(WHOOSH3_HEADER_MAGIC + pack_int(-(len(info) + len(data))) + info + data)
        extent = postfile.tell() - offset
        return W3TermInfo._struct.pack(
            False, 0 + sum(weights), len(ids), length_to_byte(minlength),
            length_to_byte(maxlength), maxweight, ids[0], ids[-1]) \
            + pack_long(offset) + pack_int(extent)

    def _term_postings(self, ids: array, weights: array, values: list) -> None:
        """Hook: the whole term's postings, before the term is finished."""

    def _term_written(self) -> None:
        """Hook: a term written by ``_one_block`` (``finish_term`` was not called)."""
