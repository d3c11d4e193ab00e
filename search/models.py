"""Plain data that crosses the boundaries of the core library.

``Article`` is what every reader produces and what the indexer stores; ``IngestStats`` is what an
ingest run reports. Both are frozen: nothing downstream edits what upstream produced.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property


@dataclass(frozen=True)
class Article:
    """One news article as the archive knows it.

    ``people``, ``organizations`` and ``places`` are canonical names (``ENTITY_KINDS``);
    ``date`` is a calendar date or ``None`` (never guessed).
    """

    id: str
    headline: str
    body: str
    people: tuple[str, ...] = ()
    date: dt.date | None = None
    section: str = ""
    url: str = ""
    byline: str = ""
    source: str = ""
    organizations: tuple[str, ...] = ()
    places: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        """Every field, as JSON holds it (lists, an ISO date). (``dataclasses.asdict`` made
        the same dict ten times slower: it copies each value deeply.)"""
        d = {name: getattr(self, name) for name in _ARTICLE_FIELDS}
        for kind in ENTITY_KINDS:
            d[kind] = list(d[kind])
        d["date"] = self.date.isoformat() if self.date else None
        return d

    @cached_property
    def content_hash(self) -> str:
        """A digest of every field: equal hashes mean an unchanged article. (Organisations
        and places count only when there are any: an article stored before they existed
        keeps its hash.)"""
        d = self.to_dict()
        for kind in ("organizations", "places"):
            if not d[kind]:
                del d[kind]
        blob = json.dumps(d, sort_keys=True, ensure_ascii=False)
        return hashlib.sha1(blob.encode("utf-8")).hexdigest()[:20]


_ARTICLE_FIELDS = tuple(f.name for f in fields(Article))
# the named entities an article carries, each a tuple of canonical names
ENTITY_KINDS = ("people", "organizations", "places")


@dataclass
class IngestStats:
    """Counts of one ingest run (mutable while the run goes on)."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0
    rejected: int = 0
    seconds: float = 0.0
    rejects: list = field(default_factory=list, repr=False)

    def summary(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "deleted": self.deleted,
            "rejected": self.rejected,
            "seconds": round(self.seconds, 3),
        }


SORTS = ("relevance", "newest", "oldest")


@dataclass(frozen=True)
class SearchRequest:
    """A search as the core understands it (already validated: see ``search.params``)."""

    q: str = ""
    person: tuple[str, ...] = ()
    person_match: str = "any"  # "any": articles naming any of ``person``; "all": all of them
    organization: tuple[str, ...] = ()  # articles naming any of these organisations
    place: tuple[str, ...] = ()  # articles naming any of these places
    section: tuple[str, ...] = ()
    year: tuple[int, ...] = ()
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    sort: str | None = None  # None: relevance with a query, newest without
    page: int = 1
    per_page: int = 10
    facet_size: int = 10
    group: str = "story"  # "story": one hit per story, its best-ranked version; "none": all

    @property
    def grouped(self) -> bool:
        return self.group == "story"

    @property
    def effective_sort(self) -> str:
        if self.sort and (self.sort != "relevance" or self.q.strip()):
            return self.sort
        return "relevance" if self.q.strip() else "newest"

    def to_dict(self) -> dict:
        return {
            "q": self.q, "person": list(self.person), "person_match": self.person_match,
            "organization": list(self.organization), "place": list(self.place),
            "section": list(self.section),
            "year": list(self.year),
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "sort": self.effective_sort, "page": self.page, "per_page": self.per_page,
            "facet_size": self.facet_size, "group": self.group,
        }


@dataclass(frozen=True)
class StoryRef:
    """The story of an article: its id (the lead's article id) and how many versions it has."""

    id: str
    versions: int


@dataclass(frozen=True)
class Hit:
    id: str
    headline: str
    headline_html: str  # escaped, matches in <mark>
    snippet_html: str  # escaped, matches in <mark>
    date: dt.date | None
    people: tuple[str, ...]
    section: str
    source_url: str | None
    score: float | None
    story: StoryRef | None = None
    organizations: tuple[str, ...] = ()
    places: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["date"] = self.date.isoformat() if self.date else None
        for kind in ENTITY_KINDS:
            d[kind] = list(getattr(self, kind))
        return d


@dataclass(frozen=True)
class FacetValue:
    value: str | int
    count: int
    selected: bool


@dataclass(frozen=True)
class Suggestion:
    q: str
    html: str  # escaped, corrected words in <mark>


@dataclass(frozen=True)
class SearchResult:
    request: SearchRequest
    total: int
    hits: tuple[Hit, ...]
    facets: dict  # name -> tuple[FacetValue, ...]
    undated: int
    suggestion: Suggestion | None
    notes: tuple[str, ...]  # what was adjusted in the query, in plain words
    took_ms: float
    query_text: str = ""  # the query as parsed (for display and debugging)
    timed_out: bool = False  # the time limit cut ranking short: hits are the best found so far
    stories: int = 0  # distinct stories among the matching articles
    # some of the cluster's shards did not answer (search.engines.xapian): the answer is from
    # the others; missing_shards names those that did not
    partial: bool = False
    missing_shards: tuple[str, ...] = ()

    @property
    def pages(self) -> int:
        shown = self.stories if self.request.grouped else self.total
        return max(1, -(-shown // self.request.per_page)) if shown else 0


@dataclass(frozen=True)
class StoryVersion:
    id: str
    headline: str
    date: dt.date | None
    source: str
    similarity: float  # the share of the smaller text's shingles found in the other's
    jaccard: float  # shared shingles over all shingles of the two

    def to_dict(self) -> dict:
        return {"id": self.id, "headline": self.headline,
                "date": self.date.isoformat() if self.date else None,
                "source": self.source or None, "similarity": self.similarity,
                "jaccard": self.jaccard}


@dataclass(frozen=True)
class Story:
    """The versions of one story (``search.stories``): the lead first."""

    id: str
    lead: str
    versions: tuple[StoryVersion, ...]


@dataclass(frozen=True)
class EntityProfile:
    """What the archive knows of one person, organisation or place (``kind`` of
    ``ENTITY_KINDS``): its articles, their dates by year, the names most often named with it,
    their sections, and the latest of them."""

    kind: str
    name: str  # as the archive writes it
    articles: int
    first_date: dt.date | None
    last_date: dt.date | None
    years: tuple[FacetValue, ...]  # every year with articles, oldest first
    undated: int
    people: tuple[FacetValue, ...]
    organizations: tuple[FacetValue, ...]
    places: tuple[FacetValue, ...]
    sections: tuple[FacetValue, ...]
    latest: tuple[RelatedArticle, ...]
    aliases: tuple[str, ...] = ()  # spellings the archive's aliases file merges into it

    def to_dict(self) -> dict:
        def values(vs):
            return [{"value": v.value, "count": v.count} for v in vs]

        return {"kind": self.kind, "name": self.name, "articles": self.articles,
                "first_date": self.first_date.isoformat() if self.first_date else None,
                "last_date": self.last_date.isoformat() if self.last_date else None,
                "years": values(self.years), "undated": self.undated,
                "people": values(self.people), "organizations": values(self.organizations),
                "places": values(self.places), "sections": values(self.sections),
                "aliases": list(self.aliases),
                "latest": [a.to_dict() for a in self.latest]}


@dataclass(frozen=True)
class RelatedArticle:
    id: str
    headline: str
    date: dt.date | None

    def to_dict(self) -> dict:
        return {"id": self.id, "headline": self.headline,
                "date": self.date.isoformat() if self.date else None}
