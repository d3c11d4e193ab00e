"""The Whoosh engine: the archive embedded in an index folder.

``engine.WhooshEngine`` answers the archive's calls over the modules of this package:

- ``store``: index folders, ``CURRENT``, the ingest lock;
- ``indexer``: the writers ``ingest.py`` uses; ``segments``: segments written a term at a time;
  ``postings``: the ``.rnk`` side files and BM25 over them;
- ``facets``: facet arrays over document numbers; ``matching``: the matching, ranking and
  paging of a request with numpy; ``operators``: the proximity and exact-word operators
  evaluated on positions;
- ``story_index``: the band store the story grouping reads (``IndexStored``);
- ``people``: the people an index holds, for lone surnames (``PeopleDays``);
- ``research``: keyword in context and significant terms over an index; ``stats``: its figures
  (``python -m search.engines.whoosh.stats [INDEX]``).

What the engines share stays in ``search/``: parsing queries (``search.query``,
``search.operators``: Whoosh's query parser is the archive's query language on both engines),
the text analysis (``search.schema``, ``search.analysis``: Whoosh's analyzers define a word on
both engines), highlighting, dates, people, stories, entities, trends' buckets, and the rules
of keyword in context and significant terms.

Indexes written before these modules moved here name some of them in their pickled table of
contents (``search.postings.RankingCodec``); ``MOVED`` keeps those names importable.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {f"search.{name}": f"{__name__}.{name}"
         for name in ("store", "postings", "segments", "indexer", "stats")}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports a moved module's old name as the module itself (what unpickling an older
    index's table of contents needs)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module) -> None:
        pass


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
    sys.meta_path.append(_MovedModules())
