"""The Whoosh schema: field names, analyzers, boosts and stored/sortable flags, in one place.

Also the mapping between ``Article`` and the stored document.
"""

from __future__ import annotations

import datetime as dt

from whoosh.analysis import IDTokenizer, LowercaseFilter, StemmingAnalyzer
from whoosh.fields import DATETIME, ID, KEYWORD, NUMERIC, STORED, TEXT, Schema

from search.models import Article

HEADLINE_BOOST = 2.0
PEOPLE_SEPARATOR = ", "  # canonical names never contain commas (search.people.canonical_name)


def build_schema() -> Schema:
    text = StemmingAnalyzer()  # lower-case, stop words out, Porter stems: "elections" ~ "election"
    exact = IDTokenizer() | LowercaseFilter()
    return Schema(
        id=ID(stored=True, unique=True),
        # "<content hash>:<id>": a term lookup tells whether an article is already stored unchanged
        fingerprint=ID(stored=True),
        # spelling=True keeps the unstemmed words apart, for "did you mean" suggestions
        headline=TEXT(stored=True, analyzer=text, field_boost=HEADLINE_BOOST, spelling=True),
        body=TEXT(stored=True, analyzer=text, spelling=True),
        people=KEYWORD(stored=True, commas=True, lowercase=True, scorable=True),
        date=DATETIME(stored=True, sortable=True),
        year=NUMERIC(int, bits=32, signed=False, sortable=True),
        section=ID(stored=True, analyzer=exact, sortable=True),
        url=ID(stored=True),
        byline=STORED(),
        source=ID(stored=True, analyzer=exact),
    )


def fingerprint(article: Article) -> str:
    return f"{article.content_hash}:{article.id}"


def article_to_doc(article: Article) -> dict:
    doc = {
        "id": article.id,
        "fingerprint": fingerprint(article),
        "headline": article.headline,
        "body": article.body,
        "people": PEOPLE_SEPARATOR.join(article.people),
        "byline": article.byline,
    }
    # empty values are left out, so that "" never becomes a section or a source term
    for name in ("section", "url", "source"):
        if getattr(article, name):
            doc[name] = getattr(article, name)
    if article.date is not None:
        doc["date"] = dt.datetime(article.date.year, article.date.month, article.date.day)
        doc["year"] = article.date.year
    return doc


def doc_to_article(stored: dict) -> Article:
    date = stored.get("date")
    people = stored.get("people") or ""
    return Article(
        id=stored["id"],
        headline=stored.get("headline", ""),
        body=stored.get("body", ""),
        people=tuple(p for p in people.split(PEOPLE_SEPARATOR) if p),
        date=date.date() if isinstance(date, dt.datetime) else None,
        section=stored.get("section", ""),
        url=stored.get("url", ""),
        byline=stored.get("byline", ""),
        source=stored.get("source", ""),
    )
