"""``Archive``: the one object the fronts (the web app, ``ingest.py``'s reports, the
benchmarks) talk to. It runs over one engine (``search.engines``): Whoosh, embedded in an index
folder (the default), or Xapian, a cluster of remote shards (``NEWS_ENGINE=xapian``,
``NEWS_SHARDS``). Every call goes to the engine; one it cannot answer raises ``NotSupported``
naming the feature (``engine.features`` says beforehand).
"""

from __future__ import annotations

from search.diffs import Changes, changes
from search.engines import open_engine
from search.errors import NotSupported
from search.highlight import ARTICLE_PART_CHARS, article_parts, split_paragraphs  # noqa: F401
from search.models import Story
from search.query import DEFAULT_TIME_LIMIT

__all__ = ["Archive", "ARTICLE_PART_CHARS"]

# what the fronts call; each goes to the engine as it is
_CALLS = ("warm", "search", "export", "people_lookup", "names_lookup", "cooccurrence", "entity",
          "trends", "kwic", "significant", "aliases", "article", "story", "story_versions",
          "related", "highlight_article", "stats")


class Archive:
    def __init__(self, directory=None, time_limit: float = DEFAULT_TIME_LIMIT, *,
                 engine: str | None = None, shards: str | None = None):
        self.engine = open_engine(engine, directory=directory, shards=shards,
                                  time_limit=time_limit)

    @property
    def time_limit(self) -> float:
        """Seconds a search may take (the engine's; settable)."""
        return self.engine.time_limit

    @time_limit.setter
    def time_limit(self, seconds: float) -> None:
        self.engine.time_limit = seconds

    @property
    def directory(self):
        """The index folder (Whoosh), or the shards (Xapian), for messages."""
        return self.engine.directory

    @property
    def features(self):
        return self.engine.features

    def close(self) -> None:
        self.engine.close()

    def story_changes(self, story_id: str) -> tuple[Story, dict[str, Changes]]:
        """The story ``story_id`` and what each version changed against the lead (from the
        engine's ``story_versions``)."""
        story, articles = self.engine.story_versions(story_id)
        lead = articles[story.lead]
        return story, {v.id: changes(lead.headline, lead.body, articles[v.id].headline,
                                     articles[v.id].body) for v in story.versions}

    def __getattr__(self, name: str):
        # only the calls of an archive; an engine's own attributes stay its own
        if name in _CALLS:
            method = getattr(self.engine, name, None)
            if method is None:
                raise NotSupported(name.replace("_", " "), self.engine.name)
            return method
        raise AttributeError(name)
