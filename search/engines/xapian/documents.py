"""An ``Article`` as a Xapian document, and back.

The terms are the Whoosh engine's own: headline and body go through the same analysis
(``search.schema.ArticleText``: folded, stop words out, Snowball stems, the same positions), names
and sections through the same exact keys. So a query parsed once by the shared parser finds the
same articles on both engines, and highlighting (shared, from stored text) marks the same words.

Terms (Xapian's convention: an upper-case prefix, then the term):

- ``XH`` headline and ``XB`` body words, with positions (headline words weigh twice:
  ``search.schema.HEADLINE_BOOST`` as within-document frequency);
- ``XP`` people, ``XO`` organisations, ``XL`` places, ``XS`` section: whole names, exact keys;
- ``EH``, ``EB``: each word of the headline and body as written, lower-cased (``exact:``);
- ``XY`` year; ``Q`` the article's id (its unique term: upserts replace by it); ``XA`` on an
  article whose names the archive's aliases changed (its names as found are in its data).

Every shard keeps the archive's aliases file as its metadata ``aliases``.

Stories (``search.stories``, kept as articles come and go by ``search.engines.xapian.stories``):
``XT`` the story's id (its lead's article id), ``XK`` each of the article's band keys (16
hexadecimal digits: how its possible versions are found).

Values (slots): the date as ``YYYYMMDD`` (empty when undated), the year and the month, the
section and each kind of names as written (names joined by ``NAME_JOIN``, counted by one
match spy per kind), an "oldest first" key (undated last); the story's id, and again in
``SLOT_SHARED`` only when the story has other versions (searches collapse on it and count
its values: a story of one version costs nothing there); the similarity to the lead
(``containment jaccard``); the article's sketch (``NUM_PERM`` unsigned 32-bit values,
little-endian, then its id), empty for an article without words.

The document's data is the stored article as JSON, with its fingerprint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from functools import lru_cache

import numpy as np
import xapian

from search.aliases import Aliases, AliasesError
from search.analysis import exact_key
from search.operators import _TOKEN
from search.models import ENTITY_KINDS, Article
from search.schema import HEADLINE_BOOST, build_schema
from search.stories import NUM_PERM, band_keys

log = logging.getLogger(__name__)

TEXT_PREFIX = {"headline": "XH", "body": "XB"}
NAME_PREFIX = {"people": "XP", "organizations": "XO", "places": "XL", "section": "XS"}
FIELD_PREFIX = {**TEXT_PREFIX, **NAME_PREFIX}
# each word as written, lower-cased, not folded nor stemmed (``exact:``; boolean terms)
EXACT_PREFIX = {"headline": "EH", "body": "EB"}
YEAR_PREFIX = "XY"
ID_PREFIX = "Q"
ALIASED = "XA"  # an article whose names the archive's aliases changed
ALIASES_KEY = "aliases"  # the archive's aliases file, kept as every shard's metadata

SLOT_DAY, SLOT_YEAR, SLOT_MONTH, SLOT_SECTION = 0, 1, 2, 3
SLOT_NAMES = {"people": 4, "organizations": 5, "places": 6}
SLOT_OLDEST = 7
SLOT_STORY, SLOT_SHARED, SLOT_SIMILARITY, SLOT_SKETCH = 8, 9, 10, 11
STORY_PREFIX = "XT"
BAND_PREFIX = "XK"
UNDATED_LAST = "99999999"
NAME_JOIN = "\x1f"  # never in a name (control characters are dropped at ingest)
MAX_TERM_BYTES = 240  # Xapian refuses terms over 245 bytes


def term(prefix: str, text: str) -> str:
    """``prefix + text``, or for a text too long to be a Xapian term, ``prefix`` and a hash
    of it (the same on every call, so filters and facets still find it)."""
    whole = prefix + text
    # (a character is at most 4 bytes: most terms need no encoding to be measured)
    if len(whole) * 4 <= MAX_TERM_BYTES or len(whole.encode("utf-8")) <= MAX_TERM_BYTES:
        return whole
    return prefix + "#" + hashlib.sha1(text.encode("utf-8")).hexdigest()


def id_term(article_id: str) -> str:
    return term(ID_PREFIX, article_id)


@lru_cache(maxsize=1)
def _schema():
    return build_schema()


def text_postings(field: str, text: str):
    """(term, positions) of ``text`` in ``field`` ("headline" or "body"), as the Whoosh
    engine indexes them."""
    for raw, positions in _schema()[field].positions(text).items():
        yield (raw.decode("utf-8") if isinstance(raw, bytes) else raw), positions


def name_keys(kind: str, values) -> list[str]:
    """The exact keys of ``values`` (names, or a section), as the Whoosh engine's analyzers
    make them."""
    analyzer = _schema()[kind].analyzer
    keys = []
    for value in values:
        for token in analyzer(value):
            if token.text and token.text not in keys:
                keys.append(token.text)
    return keys


def article_document(article: Article, fingerprint: str,
                     names_found: dict[str, list[str]] | None = None) -> xapian.Document:
    """``article`` as a document; ``names_found``: its names as found, when the archive's
    aliases changed them (kept in the data, and the document marked ``ALIASED``)."""
    doc = xapian.Document()
    for field in ("headline", "body"):
        prefix = TEXT_PREFIX[field]
        wdf = int(HEADLINE_BOOST) if field == "headline" else 1
        add_posting = doc.add_posting
        for word, positions in text_postings(field, getattr(article, field)):
            t = term(prefix, word)
            for pos in positions:
                add_posting(t, pos + 1, wdf)  # Xapian positions start at 1
        # the words ``exact:`` looks for, found as ``search.engines.whoosh.matching.exact_docs`` does
        for word in set(_TOKEN.findall(getattr(article, field).lower())):
            doc.add_boolean_term(term(EXACT_PREFIX[field], word))
    for kind in ENTITY_KINDS:
        names = getattr(article, kind)
        for key in name_keys(kind, names):
            doc.add_boolean_term(term(NAME_PREFIX[kind], key))
        doc.add_value(SLOT_NAMES[kind], NAME_JOIN.join(names))
    if article.section:
        for key in name_keys("section", [article.section]):
            doc.add_boolean_term(term(NAME_PREFIX["section"], key))
        doc.add_value(SLOT_SECTION, article.section)
    if article.date is not None:
        day = article.date.strftime("%Y%m%d")
        doc.add_value(SLOT_DAY, day)
        doc.add_value(SLOT_YEAR, f"{article.date.year:04d}")
        doc.add_value(SLOT_MONTH, f"{article.date.year:04d}-{article.date.month:02d}")
        doc.add_value(SLOT_OLDEST, day)
        doc.add_boolean_term(f"{YEAR_PREFIX}{article.date.year}")
    else:
        doc.add_value(SLOT_OLDEST, UNDATED_LAST)
    doc.add_boolean_term(id_term(article.id))
    extra = {}
    if names_found is not None:
        doc.add_boolean_term(ALIASED)
        extra["names_found"] = names_found
    doc.set_data(json.dumps({**extra,
        "id": article.id, "fingerprint": fingerprint, "headline": article.headline,
        "body": article.body, **{kind: list(getattr(article, kind)) for kind in ENTITY_KINDS},
        "date": article.date.isoformat() if article.date else None, "section": article.section,
        "url": article.url, "byline": article.byline, "source": article.source,
    }, ensure_ascii=False))
    return doc


def story_term(story_id: str) -> str:
    return term(STORY_PREFIX, story_id)


def band_term(key: int) -> str:
    return f"{BAND_PREFIX}{key:016x}"


def set_story(doc: xapian.Document, article_id: str, story: tuple[str, tuple[float, float]],
              shared: bool) -> None:
    """Give ``doc`` (article ``article_id``'s) its story: (the lead's id, (containment,
    jaccard)); ``shared``: the story has other versions."""
    old = doc.get_value(SLOT_STORY)
    if old:
        try:
            doc.remove_term(story_term(old.decode("utf-8")))
        except xapian.InvalidArgumentError:
            pass
    story_id, (containment, jaccard) = story
    doc.add_boolean_term(story_term(story_id))
    doc.add_value(SLOT_STORY, story_id)
    doc.add_value(SLOT_SHARED, story_id if shared or story_id != article_id else "")
    doc.add_value(SLOT_SIMILARITY, f"{containment:g} {jaccard:g}")


def set_sketch(doc: xapian.Document, article_id: str, signature: np.ndarray) -> None:
    """Give ``doc`` the article's sketch and band keys (none for an article without words)."""
    if not len(signature):
        doc.add_value(SLOT_SKETCH, b"")
        return
    doc.add_value(SLOT_SKETCH, np.asarray(signature, dtype="<u4").tobytes()
                  + article_id.encode("utf-8"))
    for key in band_keys(signature[None, :])[0].tolist():
        doc.add_boolean_term(band_term(key))


def keep_story(doc: xapian.Document, old: xapian.Document) -> None:
    """Give ``doc``, made again from an article, the story and sketch of ``old``, its stored
    document."""
    for slot in (SLOT_STORY, SLOT_SHARED, SLOT_SIMILARITY, SLOT_SKETCH):
        value = old.get_value(slot)
        if value:
            doc.add_value(slot, value)
    prefixes = (STORY_PREFIX.encode("ascii"), BAND_PREFIX.encode("ascii"))
    for item in old.termlist():
        if item.term.startswith(prefixes):
            doc.add_boolean_term(item.term)


def document_story(doc: xapian.Document) -> tuple[str | None, tuple]:
    """(the story's id, or None when none is kept; (containment, jaccard), or ())."""
    story = doc.get_value(SLOT_STORY).decode("utf-8")
    similarity = doc.get_value(SLOT_SIMILARITY).decode("ascii")
    return (story or None), tuple(float(x) for x in similarity.split())


def sketch_of(value: bytes) -> tuple[str, np.ndarray] | None:
    """(article id, signature) of a ``SLOT_SKETCH`` value; None when it is empty."""
    if not value:
        return None
    size = NUM_PERM * 4
    return value[size:].decode("utf-8"), np.frombuffer(value[:size], dtype="<u4").astype(
        np.uint32)


def stored(doc: xapian.Document) -> dict:
    return json.loads(doc.get_data())


def document_article(doc: xapian.Document, data: dict | None = None) -> Article:
    """The stored article of ``doc`` (``data``: its data, when already read)."""
    data = stored(doc) if data is None else data
    return Article(
        id=data["id"], headline=data["headline"], body=data["body"],
        people=tuple(data["people"]), organizations=tuple(data["organizations"]),
        places=tuple(data["places"]),
        date=dt.date.fromisoformat(data["date"]) if data["date"] else None,
        section=data["section"], url=data["url"], byline=data["byline"],
        source=data["source"])


def slot_day(value: str) -> dt.date:
    """A date from its value slot (``YYYYMMDD``)."""
    return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))


def kept_aliases(text: str) -> Aliases:
    """The aliases file the shards keep (metadata ``ALIASES_KEY``); none when it is empty or
    unreadable (logged: ``ingest.py`` refuses a bad file before it is kept)."""
    try:
        return Aliases.parse(text, "the cluster's aliases") if text else Aliases()
    except AliasesError as exc:
        log.warning("%s", exc)
        return Aliases()


def value_key(kind: str, value: str) -> str:
    """The key a facet value of ``kind`` is counted under (names as ``exact_key`` makes it)."""
    return exact_key(value)
