"""The engines the archive can run on, chosen by configuration.

- ``whoosh`` (the default): embedded, the index in a folder (``NEWS_INDEX``, default ``index/``);
  its code is ``search.engines.whoosh`` and the Whoosh modules it names.
- ``xapian``: a cluster of ``xapian-tcpsrv`` shards (``NEWS_SHARDS``; ``python -m
  search.cluster start`` runs one locally); ``search.engines.xapian``, imported only when
  chosen (its bindings are the optional extra ``.[xapian]``).

``NEWS_ENGINE`` and ``NEWS_SHARDS`` are read from the app's settings or the environment alike.
Everything else in ``search/`` is shared by both: the request and result types
(``models``), parameters, dates, names, ingest readers, query syntax and its checks, highlighting,
facet rules.
"""

from __future__ import annotations

import os

from search.errors import SearchError

ENGINES = ("whoosh", "xapian")


class EngineConfigError(SearchError):
    """The engine settings cannot be used (an unknown engine, no shards named)."""


def engine_name(value: str | None = None) -> str:
    name = (value or os.environ.get("NEWS_ENGINE") or "whoosh").strip().lower()
    if name not in ENGINES:
        raise EngineConfigError(f"NEWS_ENGINE={name!r} is not an engine: give one of "
                                f"{', '.join(ENGINES)}")
    return name


def shards_setting(value: str | None = None) -> str:
    shards = value or os.environ.get("NEWS_SHARDS") or ""
    if not shards.strip():
        raise EngineConfigError("the xapian engine needs NEWS_SHARDS (host:port of each shard, "
                                "commas between; `python -m search.cluster start DIR` prints it)")
    return shards


def _xapian():
    try:
        import xapian  # noqa: F401
    except ImportError:
        raise EngineConfigError("the xapian engine needs its Python bindings: "
                                "pip install '.[xapian]'") from None


def open_engine(name: str | None = None, *, directory=None, shards: str | None = None,
                time_limit: float | None = None):
    """The engine ``name`` (``engine_name``), on ``directory`` (Whoosh) or ``shards``
    (Xapian)."""
    from search.query import DEFAULT_TIME_LIMIT

    limit = DEFAULT_TIME_LIMIT if time_limit is None else time_limit
    name = engine_name(name)
    if name == "xapian":
        _xapian()
        from search.engines.xapian.engine import XapianEngine

        return XapianEngine(shards_setting(shards), time_limit=limit)
    from search.engines.whoosh.engine import WhooshEngine
    from search.engines.whoosh import store

    return WhooshEngine(directory if directory is not None else store.default_index_dir(),
                        time_limit=limit)


def open_indexer(name: str | None = None, *, directory=None, shards: str | None = None,
                 **options):
    """What ``ingest.py`` writes through: ``search.engines.whoosh.indexer.Indexer`` (Whoosh) or
    ``XapianIndexer`` (the cluster), with the same options."""
    name = engine_name(name)
    if name == "xapian":
        _xapian()
        from search.engines.xapian.writer import XapianIndexer

        return XapianIndexer(shards_setting(shards), **options)
    from search.engines.whoosh.indexer import Indexer

    return Indexer(directory, **options)
