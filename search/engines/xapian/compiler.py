"""The shared parser's query (a Whoosh query tree: ``search.query.parse_query``) as a Xapian
query. No I/O: prefixes and wildcards are expanded by Xapian itself (``OP_WILDCARD``) or over
the word list (``Lexicon``), after the shared parser's checks have refused the costly ones.

``Lexicon`` is what the shared parser and highlighter need of an index: its word lists by
field (prefix expansion, fuzzy words, "is this word there"), read from the shards.
"""

from __future__ import annotations

import re

import xapian
from whoosh import query as wq

from search import operators as ops
from search.engines.xapian.documents import (EXACT_PREFIX, FIELD_PREFIX, SLOT_DAY, term)

FIRST_DAY, LAST_DAY = "00000000", "99991231"


class Unsupported(Exception):
    """A part of the query this engine cannot run (its note says which)."""


class Lexicon:
    """The word lists of a Xapian database, shaped like the Whoosh reader the shared query
    code reads (``schema``, ``expand_prefix``, ``lexicon``, ``(field, word) in``)."""

    def __init__(self, db: xapian.Database, schema, cache: dict | None = None):
        self.db = db
        self.schema = schema
        self._cache = cache if cache is not None else {}

    def expand_prefix(self, field: str, prefix):
        if field not in FIELD_PREFIX:
            return
        if isinstance(prefix, bytes):
            prefix = prefix.decode("utf-8")
        head = FIELD_PREFIX[field]
        for item in self.db.allterms(head + prefix):
            yield item.term[len(head):]

    def lexicon(self, field: str) -> list[bytes]:
        words = self._cache.get(field)
        if words is None:
            words = list(self.expand_prefix(field, ""))
            self._cache[field] = words
        return words

    def words(self, field: str) -> list[str]:
        return [w.decode("utf-8", "replace") for w in self.lexicon(field)]

    def __contains__(self, item) -> bool:
        field, text = item
        if field not in FIELD_PREFIX:
            return False
        if isinstance(text, bytes):
            text = text.decode("utf-8")
        return self.db.term_exists(term(FIELD_PREFIX[field], text))

    def frequency(self, field: str, text: str) -> int:
        return self.db.get_termfreq(term(FIELD_PREFIX[field], text)) if field in FIELD_PREFIX \
            else 0


def _text(value) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _scaled(q: xapian.Query, boost: float) -> xapian.Query:
    return q if boost == 1 else xapian.Query(xapian.Query.OP_SCALE_WEIGHT, q, boost)


def compile_query(q: wq.Query | None, lexicon: Lexicon) -> xapian.Query:
    """The Xapian query of ``q`` (None: every article)."""
    if q is None:
        return xapian.Query.MatchAll
    return _compile(q, lexicon)


def _not(q: xapian.Query) -> xapian.Query:
    return xapian.Query(xapian.Query.OP_AND_NOT, xapian.Query.MatchAll, q)


def _compile(q: wq.Query, lexicon: Lexicon) -> xapian.Query:
    if q is wq.NullQuery or isinstance(q, wq.NullQuery.__class__):
        return xapian.Query.MatchNothing
    if isinstance(q, wq.Term):
        if q.fieldname not in FIELD_PREFIX:
            return xapian.Query.MatchNothing
        return _scaled(xapian.Query(term(FIELD_PREFIX[q.fieldname], _text(q.text))), q.boost)
    if isinstance(q, ops.Exact):
        return xapian.Query(term(EXACT_PREFIX[q.fieldname], q.word))
    if isinstance(q, ops.Near):
        prefix = FIELD_PREFIX[q.fieldname]
        subs = [xapian.Query(term(prefix, w)) for w in q.words]
        # "within N words": the first and the last at most N positions apart, so all of them in
        # a window of N + 1 positions
        return xapian.Query(xapian.Query.OP_NEAR, subs, q.distance + 1)
    if isinstance(q, wq.Phrase):
        prefix = FIELD_PREFIX.get(q.fieldname)
        if prefix is None:
            return xapian.Query.MatchNothing
        subs = [xapian.Query(term(prefix, _text(w))) for w in q.words]
        if len(subs) == 1:
            return subs[0]
        return _scaled(xapian.Query(xapian.Query.OP_PHRASE, subs, len(subs) + q.slop - 1),
                       q.boost)
    if isinstance(q, ops.DateRange):
        first = q.first.strftime("%Y%m%d") if q.first else FIRST_DAY
        last = q.last.strftime("%Y%m%d") if q.last else LAST_DAY
        return xapian.Query(xapian.Query.OP_VALUE_RANGE, SLOT_DAY, first, last)
    if isinstance(q, wq.Prefix):
        prefix = FIELD_PREFIX.get(q.fieldname)
        if prefix is None:
            return xapian.Query.MatchNothing
        return xapian.Query(xapian.Query.OP_WILDCARD, prefix + _text(q.text), 0,
                            xapian.Query.WILDCARD_LIMIT_ERROR, xapian.Query.OP_OR)
    if isinstance(q, wq.Wildcard):
        pattern = re.compile(q._get_pattern())
        words = [w for w in lexicon.expand_prefix(q.fieldname, q._find_prefix(q.text))
                 if pattern.match(_text(w))]
        prefix = FIELD_PREFIX.get(q.fieldname, "")
        return xapian.Query(xapian.Query.OP_OR, [xapian.Query(prefix + _text(w))
                                                 for w in words]) \
            if words else xapian.Query.MatchNothing
    if isinstance(q, wq.Not):
        return _not(_compile(q.query, lexicon))
    if isinstance(q, wq.AndNot):
        return xapian.Query(xapian.Query.OP_AND_NOT, _compile(q.a, lexicon),
                            _compile(q.b, lexicon))
    if isinstance(q, wq.AndMaybe):
        return xapian.Query(xapian.Query.OP_AND_MAYBE, _compile(q.a, lexicon),
                            _compile(q.b, lexicon))
    if isinstance(q, wq.And) or isinstance(q, wq.Require):
        subs = q.subqueries if isinstance(q, wq.And) else [q.a, q.b]
        positive = [_compile(s, lexicon) for s in subs if not isinstance(s, wq.Not)]
        negative = [_compile(s.query, lexicon) for s in subs if isinstance(s, wq.Not)]
        out = xapian.Query(xapian.Query.OP_AND, positive) if positive else xapian.Query.MatchAll
        if negative:
            out = xapian.Query(xapian.Query.OP_AND_NOT, out,
                               xapian.Query(xapian.Query.OP_OR, negative))
        return _scaled(out, getattr(q, "boost", 1.0))
    if isinstance(q, (wq.Or, wq.DisjunctionMax)):
        return _scaled(xapian.Query(xapian.Query.OP_OR,
                                    [_compile(s, lexicon) for s in q.subqueries]), q.boost)
    if isinstance(q, wq.WrappingQuery):
        return _compile(q.child, lexicon)
    raise Unsupported(f"this engine cannot search {type(q).__name__} ({q})")
