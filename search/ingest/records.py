"""From a raw ``Record`` to an ``Article``: field synonyms, validation, ids, dates, people,
organisations and places.

``load_articles`` is the reading half of an ingest: it streams records from files and
normalises them; the indexer then extracts people, organisations and places from the text of
the new and changed ones that lack those fields (``ExtractMode``).
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cached_property

from search.dates import DateParseError, parse_date
from search.errors import RecordError
from search.ingest import Record, SourceFile, read_file
from search.entities import split_names
from search.models import ENTITY_KINDS, Article
from search.people import split_people

log = logging.getLogger(__name__)

# canonical field -> names it is found under (compared case-insensitively)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "id": ("id", "_id", "guid", "uid", "doc_id", "article_id"),
    "headline": ("headline", "title", "head", "headline_text"),
    "body": ("body", "text", "content", "article", "story", "full_text"),
    "people": ("people", "persons", "person", "people_names"),
    "organizations": ("organizations", "organisations", "organization", "organisation",
                      "orgs", "companies"),
    "places": ("places", "place", "locations", "location", "glocations", "countries"),
    "date": ("date", "published", "pub_date", "published_at", "publication_date",
             "publishedat", "datetime", "pubdate", "dateline_date"),
    "section": ("section", "category", "section_name", "desk", "topic"),
    "url": ("url", "web_url", "link", "source_url", "permalink"),
    "byline": ("byline", "author", "authors", "by", "writer"),
    "source": ("source", "publisher", "outlet", "source_name"),
}
_LOOKUP = {alias: field for field, aliases in SYNONYMS.items() for alias in aliases}

MAX_ID_CHARS = 512
MAX_HEADLINE_CHARS = 2_000
MAX_BODY_CHARS = 10_000_000
MAX_SHORT_CHARS = 2_000
MAX_PEOPLE = 1_000  # names of each kind (people, organisations, places) an article may carry
# control characters other than tab and newline; zero-width and bidi marks are left in text
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\x80-\x9f]")


class ExtractMode:
    """Which of people, organisations and places are extracted from an article's text."""

    AUTO = "auto"  # each kind the record has no field for
    ALWAYS = "always"  # every kind, for every record (merged with the record's own names)
    NEVER = "never"
    ALL = (AUTO, ALWAYS, NEVER)


@dataclass(frozen=True)
class Prepared:
    """An article as read from its source, before extraction may add names: ``extract``
    holds the kinds (of ``ENTITY_KINDS``) to extract from its text.

    ``fingerprint`` is taken from the input (and what it asks to extract), not from what
    extraction makes of it: the indexer decides "unchanged" from it before extracting
    anything, and identical input is always unchanged, whatever the extractor finds.
    """

    article: Article
    extract: tuple[str, ...] = ()
    warning: str | None = None

    @cached_property
    def fingerprint(self) -> str:
        # every kind: "+people", as when people were the only kind (an archive ingested
        # before keeps its fingerprints)
        mark = "" if not self.extract else "+people" if len(self.extract) == len(
            ENTITY_KINDS) else "".join(f"+{kind}" for kind in self.extract)
        digest = hashlib.sha1((self.article.content_hash + mark).encode()).hexdigest()[:20]
        return f"{digest}:{self.article.id}"


def canonical_fields(raw: dict) -> tuple[dict, list[str]]:
    """Map synonyms onto canonical names. Returns the fields and the canonical names that were
    given more than once under different synonyms (the first one wins)."""
    out: dict = {}
    clashes: list[str] = []
    for key, value in raw.items():
        if not isinstance(key, str):
            continue
        field = _LOOKUP.get(key.strip().lower())
        if field is None:
            continue
        if field in out and out[field] not in (None, "") and value not in (None, ""):
            clashes.append(field)
            continue
        if field not in out or out[field] in (None, ""):
            out[field] = value
    return out, clashes


def _text(value: object, name: str, limit: int) -> str:
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if isinstance(value, list) and name in ("byline",) and all(isinstance(v, str) for v in value):
        value = ", ".join(v.strip() for v in value if v.strip())
    if isinstance(value, dict) and name == "byline" and isinstance(value.get("original"), str):
        value = value["original"]  # NYT-style {"original": "By ..."}
    if not isinstance(value, str):
        raise ValueError(f"{name} must be text, not {type(value).__name__}")
    value = unicodedata.normalize("NFC", _CONTROL.sub("", value.replace("\r\n", "\n")))
    value = value.strip()
    if len(value) > limit:
        raise ValueError(f"{name} longer than {limit:,} characters ({len(value):,})")
    return value


def hashed_id(headline: str, date_iso: str, body: str) -> str:
    """A stable id for a record with neither id nor url, from its whole text as read (after
    the clean-up every field gets): the same article always gets the same id, and two articles
    that differ anywhere, in a paragraph break or a capital, get different ones."""
    key = "\x1f".join((headline, date_iso, body))
    return "h" + hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def to_prepared(record: Record, mode: str = ExtractMode.AUTO) -> Prepared:
    """Validate and normalise one record; ``RecordError`` if it cannot be an article."""
    fields, clashes = canonical_fields(record.fields)
    try:
        headline = _text(fields.get("headline"), "headline", MAX_HEADLINE_CHARS)
        body = _text(fields.get("body"), "body", MAX_BODY_CHARS)
        section = " ".join(_text(fields.get("section"), "section", MAX_SHORT_CHARS).split())
        url = _text(fields.get("url"), "url", MAX_SHORT_CHARS)
        byline = _text(fields.get("byline"), "byline", MAX_SHORT_CHARS)
        source = _text(fields.get("source"), "source", MAX_SHORT_CHARS)
        raw_id = _text(fields.get("id"), "id", MAX_ID_CHARS)
        names = {kind: (split_people(fields[kind]) if kind == "people"
                        else split_names(fields[kind], kind)) if kind in fields else None
                 for kind in ENTITY_KINDS}
    except ValueError as exc:
        raise RecordError(record.origin, record.location, str(exc)) from None
    if not headline and not body:
        raise RecordError(record.origin, record.location, "neither headline nor body")
    for kind, given in names.items():
        if given is not None and len(given) > MAX_PEOPLE:
            raise RecordError(record.origin, record.location,
                              f"more than {MAX_PEOPLE} {kind} ({len(given)})")
    warning = record.fields.get("_warning") if isinstance(record.fields.get("_warning"), str) else None
    try:
        date = parse_date(fields.get("date"))
    except DateParseError as exc:
        date = None
        warning = f"{exc}; kept undated"
    if raw_id and any(ch.isspace() and ch != " " for ch in raw_id):
        raise RecordError(record.origin, record.location, "id contains line breaks or tabs")
    article_id = raw_id or url or hashed_id(headline, date.isoformat() if date else "", body)
    if clashes:
        note = f"fields given twice under different names: {', '.join(sorted(set(clashes)))}"
        warning = f"{warning}; {note}" if warning else note
    extract = ENTITY_KINDS if mode == ExtractMode.ALWAYS else tuple(
        kind for kind in ENTITY_KINDS if names[kind] is None) if mode == ExtractMode.AUTO else ()
    article = Article(id=article_id, headline=headline, body=body, people=names["people"] or (),
                      organizations=names["organizations"] or (), places=names["places"] or (),
                      date=date, section=section, url=url, byline=byline, source=source)
    return Prepared(article, extract, warning)


def _with_default_section(record: Record, folder: str) -> Record:
    fields, _ = canonical_fields(record.fields)
    if fields.get("section") not in (None, ""):
        return record
    return replace(record, fields={**record.fields, "section": folder})


def load_articles(files: Iterable[SourceFile], *, mode: str = ExtractMode.AUTO,
                  on_reject: Callable[[RecordError], None],
                  on_warning: Callable[[str], None] | None = None,
                  section_from_folder: bool = False) -> Iterator[Prepared]:
    """Stream the articles of ``files`` as ``Prepared`` (people are extracted by the indexer,
    for the new and changed ones only); rejected records go to ``on_reject``.

    With ``section_from_folder``, an article without a section of its own takes the name of
    the folder its file is in, below the path given (``bbc/sport/001.txt`` -> "sport")."""
    for path, fmt, folder in files:
        for item in read_file(path, fmt):
            if isinstance(item, RecordError):
                on_reject(item)
                continue
            if section_from_folder and folder:
                item = _with_default_section(item, folder)
            try:
                prepared = to_prepared(item, mode)
            except RecordError as err:
                on_reject(err)
                continue
            if prepared.warning and on_warning:
                on_warning(f"{item.origin}:{item.location}: {prepared.warning}")
            yield prepared


def complete_articles(batch: list[Prepared], extractor, on_progress=None) -> list[Article]:
    """The articles of ``batch``, with the people, organisations and places extracted for
    those that ask for them (``Prepared.extract``) by ``extractor`` (a
    ``search.people.Extractor``: its processes start on first use), added to their own."""
    todo = [p for p in batch if p.extract]
    if not todo:
        return [p.article for p in batch]
    done = 0

    def progress(n: int) -> None:
        nonlocal done
        done += n
        if on_progress:
            on_progress(f"names extracted from {done:,} of {len(todo):,} articles of this batch")

    kinds = [k for k in ENTITY_KINDS if any(k in p.extract for p in todo)]
    found = extractor([(p.article.headline, p.article.body) for p in todo], progress,
                        kinds=kinds)
    extracted = {id(p): names for p, names in zip(todo, found)}
    out = []
    for p in batch:
        names = extracted.get(id(p))
        if names is None:
            out.append(p.article)
            continue
        merged = {}
        for kind in p.extract:
            own = list(getattr(p.article, kind))
            seen = {n.casefold() for n in own}
            merged[kind] = tuple(own + [n for n in names[kind] if n.casefold() not in seen])
        out.append(replace(p.article, **merged))
    return out


def batched(items: Iterable[Article | Prepared], batch_size: int, stats,
            on_first: Callable[[Prepared], None] | None = None) -> Iterator[dict[str, Prepared]]:
    """``items`` in batches of up to ``batch_size`` distinct ids, as the indexers write them:
    the last copy of an id within a batch wins, an earlier copy counted in ``stats`` (an
    ``IngestStats``) as unchanged (the same input) or updated; ``on_first`` sees each id's
    first copy in a batch."""
    pending: dict[str, Prepared] = {}
    for item in items:
        if isinstance(item, Article):
            item = Prepared(item)
        earlier = pending.get(item.article.id)
        if earlier is not None:
            if earlier.fingerprint == item.fingerprint:
                stats.unchanged += 1
            else:
                stats.updated += 1
                pending[item.article.id] = item
            continue
        pending[item.article.id] = item
        if on_first is not None:
            on_first(item)
        if len(pending) >= batch_size:
            yield pending
            pending = {}
    if pending:
        yield pending
