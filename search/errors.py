"""The one error tree of the core library; each front maps it once."""

from __future__ import annotations

import time


class SearchError(Exception):
    """Root of every error the core raises on purpose."""


class IndexNotFound(SearchError):
    """There is no index at the given directory (nothing ingested yet)."""


class IndexLocked(SearchError):
    """Another ingest holds the index lock."""


class IndexOutdated(SearchError):
    """The index was made by an earlier version in a format this one does not write into."""


class IndexWriteError(SearchError):
    """The index directory could not be written (permissions, full disk ...)."""


class RecordError(SearchError):
    """One input record was rejected; names where it came from and why."""

    def __init__(self, origin: str, location: str, reason: str):
        super().__init__(f"{origin}:{location}: {reason}")
        self.origin = origin
        self.location = location
        self.reason = reason

    def to_dict(self) -> dict:
        return {"file": self.origin, "location": self.location, "reason": self.reason}


class SourceError(SearchError):
    """A whole input path is unusable (missing, unreadable, unknown format)."""


class ParamError(SearchError):
    """A request parameter is invalid; ``param`` names it, the message says what to fix."""

    def __init__(self, param: str, message: str, code: str = "invalid_parameter"):
        super().__init__(message)
        self.param = param
        self.message = message
        self.code = code


class ArticleNotFound(SearchError):
    """No article has the given id."""


class EntityNotFound(SearchError):
    """No article of the archive names the given person, organisation or place."""


class PersonNotFound(EntityNotFound):
    """No article of the archive names the given person."""


class SearchTimeout(SearchError):
    """A search ran past its time limit before it had anything to show."""


def past(deadline: float) -> None:
    """``SearchTimeout`` once ``deadline`` (a ``time.perf_counter`` time) has passed."""
    if time.perf_counter() > deadline:
        raise SearchTimeout("the search took longer than its time limit; make it more specific")


class StoryNotFound(SearchError):
    """No article is in the story with the given id."""


class NotSupported(SearchError):
    """The engine in use cannot do this (``search.engines.base.Features``)."""

    def __init__(self, feature: str, engine: str):
        super().__init__(f"the {engine} engine does not support {feature} yet")
        self.feature = feature
        self.engine = engine


class ShardsUnavailable(SearchError):
    """No shard of the cluster answered (``search.engines.xapian.shards``)."""
