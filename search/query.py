"""Parsing untrusted query text, and running a search: ``run_search(searcher, facets, request)``.

Syntax: words are ANDed; ``"exact phrases"``; ``OR``, ``NOT``, ``-word``; ``prefix*``; fields
``headline:``, ``body:``, ``people:`` (alias ``person:``), ``org:`` (``organizations:``),
``place:`` (``places:``) and ``section:``. Headline and body are stemmed ("election" finds
"elections"); names and sections match whole values, case and accents ignored
(``people:"Paul Volcker"``, ``org:opec``, ``section:sport``). Relevance is BM25F with the headline weighted
above the body (``search.schema.HEADLINE_BOOST``).

Nothing the user types makes the search fail: the parser is lenient (unbalanced quotes and
brackets are repaired, stray operators ignored), control characters are dropped, and prefixes
that are too short or expand to too many words are left out, each with a note saying so.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
import re
import time
from functools import partial

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from whoosh import query as wq
from whoosh.fields import Schema
from whoosh.qparser import (FieldAliasPlugin, MultifieldParser, OperatorsPlugin, PhrasePlugin,
                            PlusMinusPlugin)
from whoosh.qparser.plugins import RangePlugin

from search.errors import SearchTimeout, past
from search.facets import FacetData
from search.highlight import EXACT_MARK, escape, highlight_whole, match_spans, snippet
from search import operators as ops
from search.models import FacetValue, Hit, SearchRequest, SearchResult, StoryRef, Suggestion
from search.engines.whoosh.postings import (avg_field_length, bm25, decode_positions, has_positions, idf,
                             segment_positions)
from search.schema import ArrayPositions, doc_to_article

log = logging.getLogger(__name__)

QUERY_FIELDS = ("headline", "body", "people", "organizations", "places", "section")
DEFAULT_FIELDS = ("headline", "body")
FIELD_ALIASES = {"people": ["person", "persons"], "headline": ["title"], "section": ["category"],
                 "organizations": ["org", "orgs", "organization", "organisation",
                                   "organisations"],
                 "places": ["place", "location", "locations"]}
MAX_QUERY_CHARS = 500
MIN_PREFIX_CHARS = 2
MAX_EXPANSIONS = 512  # words one prefix may expand to, in one field
MAX_QUERY_EXPANSIONS = 2_048  # words all the prefixes of a query may expand to together
SUGGEST_BELOW = 3  # offer a spelling suggestion when fewer hits than this
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_DAY0 = dt.date(1, 1, 1).toordinal()


_PARSERS: dict = {}


def make_parser(schema: Schema) -> MultifieldParser:
    """The query parser for ``schema`` (built once per schema object)."""
    parser = _PARSERS.get(id(schema))
    if parser is None or parser[0] is not schema:
        parser = (schema, _build_parser(schema))
        _PARSERS.clear()  # one live schema at a time is the common case; keep it small
        _PARSERS[id(schema)] = parser
    return parser[1]


def _build_parser(schema: Schema) -> MultifieldParser:
    # Only the searchable fields are known to the parser: "id:", "date:" or "fingerprint:" are
    # read as plain words rather than reaching internal fields.
    # (an index made before organisations and places has no such fields: "org:x" is words)
    visible = Schema(**{name: schema[name] for name in QUERY_FIELDS if name in schema})
    parser = MultifieldParser(list(DEFAULT_FIELDS), visible)
    parser.remove_plugin_class(RangePlugin)  # term ranges over text scan the lexicon
    # "or" and "not" in lower case are operators too ("opec or saudi"): as words they are
    # stop words, which no search could find anyway
    parser.replace_plugin(OperatorsPlugin(
        And=r"(?<=\s)(?:AND|and)(?=\s)", Or=r"(?<=\s)(?:OR|or)(?=\s)",
        AndNot=r"(?<=\s)ANDNOT(?=\s)", AndMaybe=r"(?<=\s)ANDMAYBE(?=\s)",
        Not=r"(^|(?<=(\s|[()])))(?:NOT|not)(?=\s)", Require=r"(^|(?<=\s))REQUIRE(?=\s)"))
    parser.add_plugin(PlusMinusPlugin())
    parser.add_plugin(FieldAliasPlugin(FIELD_ALIASES))
    # proximity, fuzzy words, date: and exact: (search.operators)
    parser.remove_plugin_class(PhrasePlugin)
    for plugin in ops.plugins():
        parser.add_plugin(plugin)
    return parser


def clean_query_text(text: str, notes: list[str]) -> str:
    cleaned = " ".join(_CONTROL.sub(" ", text).split())
    if len(cleaned) > MAX_QUERY_CHARS:
        cut = cleaned[:MAX_QUERY_CHARS].rsplit(" ", 1)[0]
        notes.append(f"the query was cut to its first {len(cut)} characters")
        cleaned = cut
    return cleaned


_MINUS = re.compile(r"(?<![^\s(])-(?=[^\s-])")


def parse_query(text: str, schema: Schema, reader, notes: list[str],
                lexicon=None) -> wq.Query | None:
    """The query for ``text``, or ``None`` when nothing searchable is left (browse).
    ``lexicon(field)``: the field's indexed words, sorted, for fuzzy words (``word~``); without
    it they are read from ``reader``."""
    if not text:
        return None
    plain = _plain_words(text, schema)
    if plain is not None:  # words alone: the parser's query, without the parser (0.5 ms)
        return plain
    parser = make_parser(schema)
    text = ops.rewrite_near(text)
    try:
        parsed = parser.parse(text)
        if parsed is wq.NullQuery and _MINUS.search(text):
            # only words to leave out ("-oil"): Whoosh's -word needs a word to subtract from;
            # NOT word means every article without it
            parsed = parser.parse(_MINUS.sub("NOT ", text))
    except Exception:  # noqa: BLE001 - the parser must never take the search down
        words = " ".join(re.findall(r"\w+", text))
        notes.append("the query could not be read as written; searched for its words instead")
        parsed = parser.parse(words) if words else wq.NullQuery
    _refuse_costly_prefixes(parsed, reader, notes)
    _refuse_many_fuzzy(parsed, notes)
    checked = _check(parsed, reader, notes, lexicon or partial(_read_lexicon, reader))
    if checked is None or checked is wq.NullQuery:
        if text.strip():
            notes.append("nothing searchable was left in the query; showing the whole archive")
        return None
    return checked.normalize()


_PLAIN = re.compile(r"[^\W_]+(?: [^\W_]+)*")
_OPERATOR_WORDS = frozenset({"and", "or", "not", "andnot", "andmaybe", "require"})


def _plain_words(text: str, schema: Schema) -> wq.Query | None:
    """The query the parser makes of ``text`` when it is words alone (letters and digits,
    none of them an operator): each word ORed over the default fields, the words ANDed, a word
    the analyzer drops (a stop word) left out; None for any other text, which the parser
    reads. Most queries people type are this; ``tests/test_search.py`` checks it equals the
    parser's answer."""
    if not _PLAIN.fullmatch(text):
        return None
    words = text.split(" ")
    if any(w.lower() in _OPERATOR_WORDS for w in words):
        return None
    parts = []
    for word in words:
        terms = []
        for field in DEFAULT_FIELDS:
            tokens = [t.text for t in schema[field].analyzer(word, mode="query")]
            if len(tokens) > 1:
                return None  # the parser makes a phrase of it
            if tokens:
                terms.append(wq.Term(field, tokens[0]))
        if terms:
            parts.append(wq.Or(terms) if len(terms) > 1 else terms[0])
    if not parts:
        return None  # stop words alone: the parser's note says so
    return (wq.And(parts) if len(parts) > 1 else parts[0]).normalize()


def _multiterms(q: wq.Query):
    if isinstance(q, (wq.Prefix, wq.Wildcard)):
        yield q
    elif not q.is_leaf():
        for child in q.children():
            yield from _multiterms(child)


def _refuse_costly_prefixes(q: wq.Query, reader, notes: list[str]) -> None:
    """Mark the prefixes and wildcards of ``q`` that ``_check`` must drop, with a note for each:
    one too short, one that expands to more than ``MAX_EXPANSIONS`` words in any of the fields
    it is searched in (it is dropped from all of them: "st*" is left out of headlines and
    bodies alike, as its note says), and, in the order they come, those that would take the
    query's prefixes together past ``MAX_QUERY_EXPANSIONS`` words ("aa* OR ae* OR ..." held a
    worker for seconds with every prefix under the cap)."""
    groups: dict[str, list] = {}
    for node in _multiterms(q):
        shown = node.text if isinstance(node, wq.Wildcard) else node.text + "*"
        groups.setdefault(shown, []).append(node)
    spent = 0
    for shown, nodes in groups.items():
        first = nodes[0]
        stem = re.split(r"[*?]", first.text, maxsplit=1)[0] \
            if isinstance(first, wq.Wildcard) else first.text
        ok = False
        if len(stem) < MIN_PREFIX_CHARS:
            notes.append(f"'{shown}' was left out: give at least {MIN_PREFIX_CHARS} letters "
                         "before * or ?")
        elif spent >= MAX_QUERY_EXPANSIONS:
            notes.append(f"'{shown}' was left out: the query's word beginnings together match "
                         f"more than {MAX_QUERY_EXPANSIONS:,} words")
        else:
            counts = [sum(1 for _ in itertools.islice(
                reader.expand_prefix(node.fieldname, stem), MAX_EXPANSIONS + 1))
                for node in nodes]
            if max(counts) > MAX_EXPANSIONS:
                notes.append(f"'{shown}' was left out: it matches more than "
                             f"{MAX_EXPANSIONS} different words; add letters")
            elif spent + sum(counts) > MAX_QUERY_EXPANSIONS:
                notes.append(f"'{shown}' was left out: the query's word beginnings together "
                             f"match more than {MAX_QUERY_EXPANSIONS:,} words")
                spent = MAX_QUERY_EXPANSIONS
            else:
                spent += sum(counts)
                ok = True
        for node in nodes:
            node.refused = not ok


def _read_lexicon(reader, field: str) -> list[str]:
    return [t.decode("utf-8") if isinstance(t, bytes) else t for t in reader.lexicon(field)] \
        if field in reader.schema else []


def _refuse_many_fuzzy(q: wq.Query, notes: list[str]) -> None:
    """Mark the fuzzy words of ``q`` past the first ``ops.MAX_FUZZY_WORDS_QUERY`` (each is a
    look-up over the archive's whole word list): they are searched as written, with a note."""
    seen: list = []

    def walk(node):
        if isinstance(node, wq.FuzzyTerm):
            key = (node.text, node.maxdist)
            if key not in seen:
                seen.append(key)
            node.refused = seen.index(key) >= ops.MAX_FUZZY_WORDS_QUERY
        elif not node.is_leaf():
            for child in node.children():
                walk(child)

    walk(q)
    if len(seen) > ops.MAX_FUZZY_WORDS_QUERY:
        notes.append(f"only the first {ops.MAX_FUZZY_WORDS_QUERY} fuzzy words (word~) were "
                     "searched as such; the others as written")


def _check(q: wq.Query, reader, notes: list[str], lexicon) -> wq.Query | None:
    """Drop the parts of ``q`` that would be too expensive (prefixes refused by
    ``_refuse_costly_prefixes``, a lone ``*``) or could not be read (``date:someday``), with a
    note for each; fuzzy words become the words they stand for."""
    if isinstance(q, ops.BadOperator):
        notes.append(q.note)
        return None
    if isinstance(q, wq.FuzzyTerm):
        if getattr(q, "refused", False):
            return wq.Term(q.fieldname, q.text, boost=q.boost)
        return ops.expand_fuzzy(q, lexicon, notes)
    if isinstance(q, wq.Every):
        notes.append("a lone * matches everything and was ignored")
        return None
    if isinstance(q, (wq.Prefix, wq.Wildcard)):
        return None if getattr(q, "refused", False) else q
    if isinstance(q, wq.Not):
        inner = _check(q.query, reader, notes, lexicon)
        return wq.Not(inner) if inner is not None else None
    if isinstance(q, wq.AndNot):
        a, b = _check(q.a, reader, notes, lexicon), _check(q.b, reader, notes, lexicon)
        if a is None:
            return None
        # And([a, Not(b)]) rather than AndNot(a, b): whoosh3 3.54's AndNot matcher lets a few
        # documents through that contain b ("oil -prices" on Reuters-21578: 835 vs 832).
        return wq.And([a, wq.Not(b)]) if b is not None else a
    if isinstance(q, wq.AndMaybe):
        a, b = _check(q.a, reader, notes, lexicon), _check(q.b, reader, notes, lexicon)
        if a is None:
            return b
        return wq.AndMaybe(a, b) if b is not None else a
    if isinstance(q, wq.CompoundQuery):
        kept = [c for c in (_check(s, reader, notes, lexicon) for s in q.subqueries)
                if c is not None]
        if not kept:
            return None
        return q.__class__(kept, boost=q.boost) if len(kept) != len(q.subqueries) or \
            any(a is not b for a, b in zip(kept, q.subqueries)) else q
    if isinstance(q, wq.WrappingQuery):
        inner = _check(q.child, reader, notes, lexicon)
        return q.__class__(inner) if inner is not None else None
    return q


_NO_DEADLINE = float("inf")


def matched_mask(q: wq.Query, searcher, facets: FacetData,
                 deadline: float = _NO_DEADLINE) -> np.ndarray:
    """The documents ``q`` matches, as a boolean mask, without scoring anything.

    Terms, prefixes and boolean structure are evaluated with numpy over cached per-term document
    arrays; what needs positions (phrases) or is unusual goes to Whoosh's own matcher.
    ``SearchTimeout`` as soon as ``deadline`` passes (checked between terms, between a
    prefix's words and every 64 documents of Whoosh's matcher).
    """
    past(deadline)
    if isinstance(q, wq.Term):
        return _mask_of(facets.term_docs(q.fieldname, q.text), facets.maxdoc)
    if isinstance(q, (wq.Prefix, wq.Wildcard)):
        mask = np.zeros(facets.maxdoc, dtype=bool)
        reader = searcher.reader()
        for i, text in enumerate(q._btexts(reader)):  # the expansions (bounded by _check)
            if i % 16 == 15:
                past(deadline)
            term = text.decode("utf-8") if isinstance(text, bytes) else text
            mask[facets.term_docs(q.fieldname, term)] = True
        return mask
    if isinstance(q, wq.And):
        mask = facets.live.copy()
        for sub in q.subqueries:
            mask &= matched_mask(sub, searcher, facets, deadline)
        return mask
    if isinstance(q, wq.Or) and not q.minmatch:
        mask = np.zeros(facets.maxdoc, dtype=bool)
        for sub in q.subqueries:
            mask |= matched_mask(sub, searcher, facets, deadline)
        return mask
    if isinstance(q, wq.Not):
        return facets.live & ~matched_mask(q.query, searcher, facets, deadline)
    if isinstance(q, wq.AndMaybe):
        return matched_mask(q.a, searcher, facets, deadline)
    if isinstance(q, wq.Every) and not q.fieldname:
        return facets.live.copy()
    if q is wq.NullQuery:
        return np.zeros(facets.maxdoc, dtype=bool)
    if isinstance(q, ops.DateRange):
        return facets.date_mask(date_to_day(q.first) if q.first else None,
                                date_to_day(q.last) if q.last else None)
    if isinstance(q, (ops.Near, ops.Exact)):
        evaluate = ops.near_docs if isinstance(q, ops.Near) else ops.exact_docs
        docs = facets.cached(("operator", repr(q)),
                             lambda: evaluate(q, searcher, facets, deadline))
        return _mask_of(docs, facets.maxdoc)

    if isinstance(q, wq.Phrase) and q.slop == 1 and len(q.words) > 1 \
            and has_positions(searcher.reader(), q.fieldname):
        docs = facets.cached(("phrase", q.fieldname, tuple(q.words)),
                             lambda: _phrase_docs(q, searcher, facets, deadline))
        return _mask_of(docs, facets.maxdoc)

    # phrases and the rest: Whoosh's matcher, cached per index version (a search stopped by
    # its deadline caches nothing)
    def run() -> np.ndarray:
        found = []
        for i, doc in enumerate(searcher.docs_for_query(q)):
            if i % 64 == 63:
                past(deadline)
            found.append(doc)
        return np.array(found, dtype=np.int32)

    docs = facets.cached(("query", repr(q)), run)
    return _mask_of(docs, facets.maxdoc)


def _mask_of(docs: np.ndarray, maxdoc: int) -> np.ndarray:
    """The boolean mask of the document numbers ``docs``."""
    mask = np.zeros(maxdoc, dtype=bool)
    mask[docs] = True
    return mask


def _phrase_docs(q: wq.Phrase, searcher, facets: FacetData, deadline: float) -> np.ndarray:
    """The live documents holding ``q``'s words one after another, from the positions the side
    files keep: the documents holding every word are found with numpy, then only their
    positions are read (Whoosh's phrase matcher reads every posting block of the words in
    Python: 171 ms for a first-seen two-word phrase at 200,000 articles)."""
    found: list[np.ndarray] = []
    checked = 0
    arrays = isinstance(searcher.schema[q.fieldname].format, ArrayPositions)
    for sub, offset in searcher.reader().leaf_readers():
        terms = [segment_positions(sub, q.fieldname, w) for w in q.words]
        if any(not t for t in terms):
            continue  # a word not in this segment
        candidates = terms[0][0]
        for t in sorted(terms[1:], key=lambda t: len(t[0])):
            candidates = candidates[_within(candidates, t[0])]
            if not len(candidates):
                break
        live = facets.live[candidates.astype(np.int64) + offset]
        candidates = candidates[live]
        at = [np.searchsorted(t[0], candidates) for t in terms]
        if arrays:  # positions as uint32 (index format 3): every candidate at once
            past(deadline)
            kept = candidates[_phrase_rows(terms, at)]
            if len(kept):
                found.append(kept.astype(np.int64) + offset)
            continue
        kept = []
        for j, doc in enumerate(candidates.tolist()):
            checked += 1
            if checked % 64 == 0:
                past(deadline)
            # positions where the phrase could start: the first word's, less every one the
            # i-th word does not follow at i
            starts = set(decode_positions(terms[0][2], terms[0][1], int(at[0][j])))
            for i in range(1, len(terms)):
                following = decode_positions(terms[i][2], terms[i][1], int(at[i][j]))
                starts &= {p - i for p in following}
                if not starts:
                    break
            if starts:
                kept.append(doc)
        if kept:
            found.append(np.array(kept, dtype=np.int64) + offset)
    return np.concatenate(found).astype(np.int32) if found else np.zeros(0, dtype=np.int32)


_ROW = 1 << 33  # a key is row * _ROW + position - word index + 2**32 (never negative)


def _phrase_rows(terms, at: list[np.ndarray]) -> np.ndarray:
    """Which candidates (rows of ``at``) hold the words one after another: each word's
    positions in every candidate, read as one uint32 array, keyed by (candidate, position less
    the word's place in the phrase); a phrase starts where every word has the same key."""
    keys = None
    for i, ((_, offsets, values), rows) in enumerate(zip(terms, at)):
        words = np.frombuffer(values, dtype="<u4")
        offsets = offsets.astype(np.int64)
        first = offsets[rows] // 4 + 1  # each value: its count, then its positions
        lengths = offsets[rows + 1] // 4 - first
        total = int(lengths.sum())
        at_word = np.arange(total) + np.repeat(first - (np.cumsum(lengths) - lengths), lengths)
        row = np.repeat(np.arange(len(rows), dtype=np.int64), lengths)
        mine = row * _ROW + words[at_word].astype(np.int64) - i + (1 << 32)
        keys = mine if keys is None else keys[_within(keys, mine)]
        if not len(keys):
            break
    rows = keys // _ROW  # in order, as the keys are
    return rows[np.r_[True, rows[1:] != rows[:-1]]] if len(rows) else rows


def _within(values: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """Which of ``values`` are in ``sorted_values`` (ascending): ``np.isin`` without sorting
    what is sorted already (document numbers of a posting list; phrase keys, which grow with
    the candidate and the position)."""
    if not len(sorted_values):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_values, values)
    np.minimum(at, len(sorted_values) - 1, out=at)
    return sorted_values[at] == values


def positive_leaves(q: wq.Query | None):
    """The leaves of ``q`` outside ``NOT`` (what a search looks for, not what it leaves out)."""
    if q is None or isinstance(q, wq.Not):
        return
    if isinstance(q, wq.AndNot):
        yield from positive_leaves(q.a)
    elif q.is_leaf():
        yield q
    else:
        for child in q.children():
            yield from positive_leaves(child)


def leaf_terms(leaf: wq.Query, reader) -> set[str]:
    """The indexed words a leaf matches (a prefix's or a fuzzy word's expansions; a phrase's
    words), or ``EXACT_MARK`` + the word of an ``exact:`` leaf."""
    if isinstance(leaf, ops.Exact):  # the word as written, not its stem's other forms
        return {EXACT_MARK + leaf.word}
    try:
        terms = leaf.existing_terms(reader, phrases=True, expand=True)
    except Exception:  # noqa: BLE001 - highlighting is best effort
        terms = set()
    return {text.decode("utf-8", "replace") if isinstance(text, bytes) else text
            for _, text in terms}


def positive_terms(q: wq.Query | None, reader) -> dict[str, frozenset[str]]:
    """The words to mark, per field: terms of ``q`` outside NOT, prefixes expanded."""
    found: dict[str, set[str]] = {}
    for leaf in positive_leaves(q):
        field = getattr(leaf, "fieldname", None)
        if field is not None:
            found.setdefault(field, set()).update(leaf_terms(leaf, reader))
    return {k: frozenset(v) for k, v in found.items() if v}


def _in(docs: np.ndarray, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each candidate, whether it is in the sorted ``docs``, and its position there."""
    pos = np.searchsorted(docs, candidates)
    found = pos < len(docs)
    found[found] = docs[pos[found]] == candidates[found]
    return found, pos


def _term_scores(field: str, text, boost: float, searcher, facets: FacetData,
                 docs: np.ndarray) -> np.ndarray:
    """Whoosh's score of one term for each of ``docs`` (0 where it does not occur)."""
    out = np.zeros(len(docs))
    _add_term_scores(out, field, text, boost, searcher, facets, docs)
    return out


def _add_term_scores(out: np.ndarray, field: str, text, boost: float, searcher,
                     facets: FacetData, docs: np.ndarray) -> None:
    """Add one term's scores to ``out`` (one value per document of the sorted ``docs``),
    looking up whichever of the two lists is shorter in the other (a prefix's rare
    expansions against hundreds of thousands of matched documents)."""
    if field not in searcher.schema or not len(docs):
        return
    postings, weights = facets.term_postings(field, text)
    if not len(postings):
        return
    if len(postings) < len(docs):
        pos = np.searchsorted(docs, postings)
        hit = pos < len(docs)
        hit[hit] = docs[pos[hit]] == postings[hit]
        at, w = pos[hit], weights[hit]
    else:
        found, pos = _in(postings, docs)
        at, w = np.flatnonzero(found), weights[pos[found]]
    if not len(at):
        return
    w = w.astype(np.float64)
    if searcher.schema[field].scorable:
        reader = searcher.reader()
        lengths = facets.lengths(field)[docs[at]].astype(np.float64)
        w = bm25(w, lengths, idf(reader, field, text, len(postings)),
                 avg_field_length(reader, field))
    out[at] += w * boost  # a term has one posting per document: no index repeats


def rank_scores(q: wq.Query, searcher, facets: FacetData, docs: np.ndarray,
                deadline: float) -> tuple[np.ndarray, bool]:
    """The relevance score of each of ``docs`` (documents ``q`` matches), as Whoosh's BM25F
    computes it, in numpy: a compound query adds the scores of its parts that match, a phrase
    the scores of its words, a prefix or wildcard the scores of the words it expands to, a NOT
    part its boost.

    Each term is scored over all of ``docs`` at once. If ``deadline`` (a ``perf_counter`` time)
    passes, the terms not yet scored are left out and the second value is True.
    """
    stopped = False
    zero = np.zeros(len(docs))

    def mask_of(node) -> np.ndarray:
        nonlocal stopped
        try:
            return matched_mask(node, searcher, facets, deadline)[docs]
        except SearchTimeout:
            stopped = True
            return np.zeros(len(docs), dtype=bool)

    def matching(node) -> np.ndarray:
        # a term scores 0 where it does not occur, so only compound parts need their mask
        if isinstance(node, wq.Term):
            return score(node, 1.0)
        return score(node, 1.0) * mask_of(node)

    def score(node, boost: float) -> np.ndarray:
        nonlocal stopped
        boost *= node.boost
        if stopped:
            return zero
        if isinstance(node, wq.Not):  # Whoosh counts an excluded part as its boost
            return np.full(len(docs), boost)
        if time.perf_counter() > deadline:
            stopped = True
            return zero
        if isinstance(node, wq.Term):
            return _term_scores(node.fieldname, node.text, boost, searcher, facets, docs)
        if isinstance(node, ops.Exact):  # as its stem would, where the word is
            return _term_scores(node.fieldname, node.stem, boost, searcher, facets, docs) \
                * mask_of(node)
        if isinstance(node, (wq.Phrase, ops.Near)):
            words = np.zeros(len(docs))
            for w in node.words:
                _add_term_scores(words, node.fieldname, w, boost, searcher, facets, docs)
            return words * mask_of(node)
        if isinstance(node, wq.And):  # every part matches every one of docs
            return sum((score(sub, boost) for sub in node.subqueries), zero)
        if isinstance(node, wq.Or):
            return sum((matching(sub) * boost for sub in node.subqueries), zero)
        if isinstance(node, (wq.AndMaybe, wq.AndNot)):
            optional = matching(node.b) * boost if isinstance(node, wq.AndMaybe) else zero
            return score(node.a, boost) + optional
        if isinstance(node, wq.MultiTerm):
            # a prefix or wildcard scores as the OR of the words it expands to (whoosh3 3.54
            # scores the words even when ``constantscore`` is set)
            total = np.zeros(len(docs))
            for t in node._btexts(searcher.reader()):
                if time.perf_counter() > deadline:  # the words scored so far count
                    stopped = True
                    break
                _add_term_scores(total, node.fieldname,
                                 t.decode("utf-8") if isinstance(t, bytes) else t, boost,
                                 searcher, facets, docs)
            return total
        # the rest: a constant for the documents they match
        return mask_of(node) * boost

    scores = score(q, 1.0)
    return scores, stopped


def request_text(req: SearchRequest, notes: list[str]) -> str:
    """The request's query text, cleaned (``clean_query_text``), with a note for a date range
    that ends before it begins (every engine's searches start here)."""
    text = clean_query_text(req.q, notes)
    if req.date_from and req.date_to and req.date_from > req.date_to:
        notes.append(f"'to' ({req.date_to.isoformat()}) is before 'from' "
                     f"({req.date_from.isoformat()}): no date is in that range")
    return text


def date_to_day(value: dt.date) -> int:
    """Days since 0001-01-01, the unit of ``FacetData.day``."""
    return value.toordinal() - _DAY0


DEFAULT_TIME_LIMIT = 5.0  # seconds a search may take (see run_search)


class Selection:
    """The documents a request selects: its parsed query, the match mask and each filter's
    mask, kept apart so that each facet can leave out its own filter."""

    def __init__(self, searcher, facets: FacetData, req: SearchRequest, deadline: float,
                 time_limit: float):
        self.req = req
        self.notes: list[str] = []
        self.text = request_text(req, self.notes)
        self.q = parse_query(self.text, searcher.schema, searcher.reader(), self.notes,
                             facets.lexicon)
        try:
            self.matched = facets.live if self.q is None else \
                matched_mask(self.q, searcher, facets, deadline) & facets.live
            past(deadline)
        except SearchTimeout:
            raise SearchTimeout(f"the search took longer than {time_limit:g}s; "
                                "make it more specific") from None
        self.filters = {
            "person": facets.person_mask(req.person, req.person_match == "all")
            if req.person else None,
            "organization": facets.organizations.mask_for(req.organization, facets.maxdoc)
            if req.organization else None,
            "place": facets.places.mask_for(req.place, facets.maxdoc) if req.place else None,
            "section": facets.section_mask(req.section) if req.section else None,
            "year": facets.year_mask(req.year) if req.year else None,
            "dates": facets.date_mask(date_to_day(req.date_from) if req.date_from else None,
                                      date_to_day(req.date_to) if req.date_to else None)
            if (req.date_from or req.date_to) else None,
        }
        self.final = self.context()
        self.docs = np.flatnonzero(self.final)

    def context(self, *skip: str) -> np.ndarray:
        """The matched documents with every filter applied but those named in ``skip``."""
        mask = self.matched
        for name, f in self.filters.items():
            if f is not None and name not in skip:
                mask = mask & f
        return mask


def ordered(sel: Selection, searcher, facets: FacetData, start: int, count: int,
            deadline: float) -> tuple[list[tuple[int, float | None]], bool]:
    """Documents ``start`` to ``start + count`` of ``sel`` in the request's order, with their
    scores when ranked by relevance; True as well when ranking stopped at ``deadline``."""
    docs = sel.docs
    sort = sel.req.effective_sort
    # grouped: the first version of each story in this order, its best-ranked match
    first = partial(first_distinct, groups=facets.story[docs]) if sel.req.grouped \
        else first_of
    if sort == "relevance" and only_exclusions(sel.q):
        sort = "newest"  # "-oil": nothing to rank by; every article without it, newest first
    if sel.q is not None and sort == "relevance":
        scores, timed_out = rank_scores(sel.q, searcher, facets, docs, deadline)
        # best first; equal scores in index order, as Whoosh's collector does
        order = first(-scores, start + count)[start:]
        return [(int(docs[i]), float(scores[i])) for i in order], timed_out
    days = facets.day[docs]
    undated_key = np.iinfo(np.int64).max
    key = np.where(facets.dated[docs], -days if sort == "newest" else days, undated_key)
    order = first(key, start + count)[start:]
    return [(int(docs[i]), None) for i in order], False


def first_distinct(key: np.ndarray, k: int, groups: np.ndarray) -> np.ndarray:
    """The positions of the first ``k`` values of ``key`` in ``first_of`` order that each
    begin a group (``groups``: a group number per position): the best of each group, best
    groups first. A prefix of the order holds the same first members of its groups as the
    whole order, so the prefix read grows until it holds ``k`` groups."""
    n = max(k, 1) * 2
    while True:
        order = first_of(key, n)
        _, at = np.unique(groups[order], return_index=True)
        firsts = order[np.sort(at)]
        if len(firsts) >= k or n >= len(key):
            return firsts[:k]
        n *= 4


def first_of(key: np.ndarray, k: int) -> np.ndarray:
    """The positions of the ``k`` smallest values of ``key``, smallest first, equal values in
    position order: ``np.argsort(key, kind="stable")[:k]`` without sorting all of ``key``
    (a page needs 10 of up to hundreds of thousands of matches)."""
    if k >= len(key) or len(key) <= 1024:
        return np.argsort(key, kind="stable")[:k]
    if k <= 0:
        return np.zeros(0, dtype=np.intp)
    kth = np.partition(key, k - 1)[k - 1]
    # every value up to the k-th, ties included, so that ties keep their position order
    candidates = np.flatnonzero(key <= kth)
    return candidates[np.argsort(key[candidates], kind="stable")][:k]


def only_exclusions(q: wq.Query | None) -> bool:
    """Whether ``q`` only leaves words out ("-oil"): nothing to rank by."""
    if isinstance(q, wq.Not):
        return True
    return isinstance(q, wq.And) and all(isinstance(sub, wq.Not) for sub in q.subqueries)


def run_search(searcher, facets: FacetData, req: SearchRequest,
               time_limit: float = DEFAULT_TIME_LIMIT) -> SearchResult:
    """Run ``req``. If finding the matching documents takes longer than ``time_limit`` seconds,
    ``SearchTimeout``; if ranking them does, hits ranked by the terms scored in time, with
    ``timed_out``."""
    started = time.perf_counter()
    deadline = started + time_limit
    sel = Selection(searcher, facets, req, deadline, time_limit)
    total = len(sel.docs)
    stories = facets.stories_among(sel.docs)
    year_values, undated = facets.year_facet(sel.context("year"), req.year)
    # multi-select: a person's count is what ticking them would add ("any"), or leave ("all")
    people_ctx = sel.final if req.person_match == "all" else sel.context("person")
    facet_values: dict[str, tuple[FacetValue, ...]] = {
        "people": facets.people_facet(people_ctx, req.person, req.facet_size),
        "organizations": facets.names_facet(facets.organizations, sel.context("organization"),
                                            req.organization, req.facet_size),
        "places": facets.names_facet(facets.places, sel.context("place"), req.place,
                                     req.facet_size),
        "section": facets.section_facet(sel.context("section"), req.section),
        "year": year_values,
        # the months of a single selected year, over every filter but the date range
        "month": facets.month_facet(sel.context("dates"), req.year[0], req.date_from,
                                    req.date_to) if len(req.year) == 1 else (),
    }
    page_docs, timed_out = ordered(sel, searcher, facets, (req.page - 1) * req.per_page,
                                   req.per_page, deadline)
    last_page = max(1, -(-(stories if req.grouped else total) // req.per_page))
    if req.page > last_page:
        sel.notes.append(f"there is no page {req.page}: this search has {last_page} "
                         f"page{'s' if last_page != 1 else ''}")
    # past the deadline, the page is finished without marks and without a suggestion
    in_time = time.perf_counter() < deadline
    terms = positive_terms(sel.q, searcher.reader()) if in_time else {}
    hits = tuple(make_hit(searcher, docnum, score, terms, facets)
                 for docnum, score in page_docs)
    # a query that found its hits gets no "did you mean", unless a word of it is not in the
    # archive at all (one side of an OR)
    suggestion = None
    if sel.q is not None and total < SUGGEST_BELOW and time.perf_counter() < deadline:
        try:
            suggestion = _suggest(searcher, facets, sel.text, total, unknown_only=total > 0,
                                  deadline=deadline)
        except SearchTimeout:
            suggestion = None
    took = (time.perf_counter() - started) * 1000
    return SearchResult(request=req, total=total, hits=hits, facets=facet_values,
                        undated=undated, suggestion=suggestion,
                        notes=tuple(dict.fromkeys(sel.notes)),
                        took_ms=round(took, 2),
                        query_text=str(sel.q) if sel.q is not None else "",
                        timed_out=timed_out, stories=stories)


def make_hit(searcher, docnum: int, score: float | None, terms: dict,
             facets: FacetData | None = None) -> Hit:
    article = doc_to_article(searcher.stored_fields(docnum))
    schema = searcher.schema
    story = None
    if facets is not None:
        number = facets.story[docnum]
        story_id = facets.story_ids[number] if facets.story_ids is not None else None
        story = StoryRef(story_id or article.id, int(facets.story_versions[number]))
    return Hit(
        id=article.id,
        headline=article.headline,
        headline_html=highlight_whole(article.headline, terms.get("headline", frozenset()),
                                      schema["headline"].analyzer),
        snippet_html=snippet(article.body, terms.get("body", frozenset()),
                             schema["body"].analyzer),
        date=article.date,
        people=article.people,
        organizations=article.organizations,
        places=article.places,
        section=article.section,
        source_url=safe_source_url(article.url),
        score=round(score, 4) if score is not None else None,
        story=story,
    )


def safe_source_url(url: str) -> str | None:
    """The article's original address, only when it is an http(s) URL."""
    return url if re.match(r"^https?://[^\s<>\"']+$", url or "", re.I) else None


_WORD = re.compile(r"(?<![\w:*])([^\W\d_][\w'’-]*)(?![\w:*])")
_OPERATORS = {"and", "or", "not", "to"}


class _WhooshWords:
    """What ``suggest`` reads of a Whoosh index."""

    def __init__(self, searcher, facets: FacetData, deadline: float):
        self.searcher, self.facets, self.deadline = searcher, facets, deadline
        self.reader = searcher.reader()

    def frequency(self, stem: str) -> int:
        return sum(self.reader.doc_frequency(field, stem) for field in FacetData.WORD_FIELDS)

    def words(self, first: str) -> list[str]:
        return self.facets.words(first)

    def texts_with(self, stem: str, articles: int):
        """(field, text) of the first few articles holding ``stem``, field by field."""
        for field in FacetData.WORD_FIELDS:
            for docnum in self.facets.term_docs(field, stem)[:articles].tolist():
                yield field, self.searcher.stored_fields(docnum).get(field) or ""

    def count(self, text: str) -> int | None:
        """Articles the query ``text`` finds (None: nothing searchable)."""
        query = parse_query(text, self.searcher.schema, self.reader, [], self.facets.lexicon)
        if query is None:
            return None
        return int(np.count_nonzero(matched_mask(query, self.searcher, self.facets,
                                                 self.deadline) & self.facets.live))


def _suggest(searcher, facets: FacetData, text: str, total: int,
             unknown_only: bool = False, deadline: float = _NO_DEADLINE) -> Suggestion | None:
    return suggest(_WhooshWords(searcher, facets, deadline), searcher.schema["body"].analyzer,
                   text, total, unknown_only, deadline)


def suggest(source, analyzer, text: str, total: int, unknown_only: bool = False,
            deadline: float = _NO_DEADLINE) -> Suggestion | None:
    """A better-spelled query from the archive's own words, when it finds more; with
    ``unknown_only``, only words the archive does not have at all are replaced. ``source``
    is what an engine gives of its words (``frequency``, ``words``, ``texts_with``, ``count``:
    ``_WhooshWords`` for Whoosh).

    A word of the query whose stem the archive uses rarely or never is replaced by a word whose
    stem is close (at most two edits) and used far more often. Candidates are the indexed stems
    (rapidfuzz over those of the same first letter: Whoosh's own corrector computes edit
    distances in Python over the lexicon, ~0.2 s a word at 20,000 articles); of those fewest
    edits away, the word shown is the archive's written form closest to what was typed, then
    the most frequent ("runing" -> "running" rather than "runs").
    """

    def stem_of(word: str) -> str | None:
        stems = [t.text for t in analyzer(word)]
        return stems[0] if stems else None

    def frequency(stem: str | None) -> int:
        return source.frequency(stem) if stem else 0

    replacements: dict[str, str] = {}
    for match in _WORD.finditer(text):
        past(deadline)
        word = match.group(1).lower()
        if word in _OPERATORS or len(word) < 3 or word in replacements:
            continue
        stem = stem_of(word)
        if not stem:
            continue
        own = frequency(stem)
        if unknown_only and own:
            continue
        # the 20 closest stems with the same first letter, at most 2 edits away
        close = process.extract(stem, source.words(stem[0]), scorer=Levenshtein.distance,
                                score_cutoff=2, limit=20)
        # a rare spelling next to a common one ("volker" beside "volcker"): of the common
        # stems fewest edits away, the one written closest to the typed word
        counted = ((distance, frequency(c), c) for c, distance, _ in close if c != stem)
        common = sorted((distance, -freq, c) for distance, freq, c in counted
                        if freq >= 3 * own + 3)
        best = [(-negative, c) for distance, negative, c in common
                if distance == common[0][0]][:5] if common else []
        forms = [(Levenshtein.distance(form, word), -freq, form) for freq, c in best
                 if (form := written_form(source, analyzer, c, word)) and form != word]
        if forms:
            replacements[word] = min(forms)[2]
    if not replacements:
        return None
    corrected = _WORD.sub(lambda m: replacements.get(m.group(1).lower(), m.group(1)), text)
    better = source.count(corrected)
    if better is None or better <= total:
        return None
    html_parts = []
    last = 0
    for m in _WORD.finditer(corrected):
        html_parts.append(escape(corrected[last:m.start()]))
        word = m.group(1)
        html_parts.append(f"<mark>{escape(word)}</mark>" if word in replacements.values()
                          and word.lower() not in replacements else escape(word))
        last = m.end()
    html_parts.append(escape(corrected[last:]))
    return Suggestion(q=corrected, html="".join(html_parts))


def written_form(source, analyzer, stem: str, typed: str, articles: int = 3) -> str | None:
    """How the archive writes ``stem``: of the words with that stem in the first few articles
    holding it (the headline's, else the body's), the one closest to ``typed``, then the most
    frequent (lower-cased)."""
    counts: dict[str, int] = {}
    field_seen = None
    for field, value in source.texts_with(stem, articles):
        if counts and field != field_seen:
            break
        field_seen = field
        for start, end in match_spans(value, frozenset([stem]), analyzer):
            form = value[start:end].lower()
            counts[form] = counts.get(form, 0) + 1
    if not counts:
        return None
    return min(counts, key=lambda f: (Levenshtein.distance(f, typed), -counts[f], f))
