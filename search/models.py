"""Plain data that crosses the boundaries of the core library.

``Article`` is what every reader produces and what the indexer stores; ``IngestStats`` is what an
ingest run reports. Both are frozen: nothing downstream edits what upstream produced.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from functools import cached_property


@dataclass(frozen=True)
class Article:
    """One news article as the archive knows it.

    ``people`` are canonical full names; ``date`` is a calendar date or ``None`` (never guessed).
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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["people"] = list(self.people)
        d["date"] = self.date.isoformat() if self.date else None
        return d

    @cached_property
    def content_hash(self) -> str:
        """A digest of every field: equal hashes mean an unchanged article."""
        blob = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha1(blob.encode("utf-8")).hexdigest()[:20]


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
