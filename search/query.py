"""Parsing untrusted query text into the query both engines run (the Whoosh engine in
``search.engines.whoosh.matching``, the Xapian engine compiled by
``search.engines.xapian.compiler``), and the spelling suggestions made from an engine's words.

Syntax: words are ANDed; ``"exact phrases"``; ``OR``, ``NOT``, ``-word``; ``prefix*``; fields
``headline:``, ``body:``, ``people:`` (alias ``person:``), ``org:`` (``organizations:``),
``place:`` (``places:``) and ``section:``. Headline and body are stemmed ("election" finds
"elections"); names and sections match whole values, case and accents ignored
(``people:"Paul Volcker"``, ``org:opec``, ``section:sport``).

Nothing the user types makes the search fail: the parser is lenient (unbalanced quotes and
brackets are repaired, stray operators ignored), control characters are dropped, and prefixes
that are too short or expand to too many words are left out, each with a note saying so.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from functools import partial

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein
from whoosh import query as wq
from whoosh.fields import Schema
from whoosh.qparser import (FieldAliasPlugin, MultifieldParser, OperatorsPlugin, PhrasePlugin,
                            PlusMinusPlugin)
from whoosh.qparser.plugins import RangePlugin

from search.errors import past
from search.highlight import EXACT_MARK, escape, match_spans
from search import operators as ops
from search.models import SearchRequest, Suggestion

_NO_DEADLINE = float("inf")

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


def request_text(req: SearchRequest, notes: list[str]) -> str:
    """The request's query text, cleaned (``clean_query_text``), with a note for a date range
    that ends before it begins (every engine's searches start here)."""
    text = clean_query_text(req.q, notes)
    if req.date_from and req.date_to and req.date_from > req.date_to:
        notes.append(f"'to' ({req.date_to.isoformat()}) is before 'from' "
                     f"({req.date_from.isoformat()}): no date is in that range")
    return text


def date_to_day(value: dt.date) -> int:
    """Days since 0001-01-01, the unit of the Whoosh engine's ``FacetData.day``."""
    return value.toordinal() - _DAY0


DEFAULT_TIME_LIMIT = 5.0  # seconds a search may take


def only_exclusions(q: wq.Query | None) -> bool:
    """Whether ``q`` only leaves words out ("-oil"): nothing to rank by."""
    if isinstance(q, wq.Not):
        return True
    return isinstance(q, wq.And) and all(isinstance(sub, wq.Not) for sub in q.subqueries)


def safe_source_url(url: str) -> str | None:
    """The article's original address, only when it is an http(s) URL."""
    return url if re.match(r"^https?://[^\s<>\"']+$", url or "", re.I) else None


_WORD = re.compile(r"(?<![\w:*])([^\W\d_][\w'’-]*)(?![\w:*])")
_OPERATORS = {"and", "or", "not", "to"}


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
