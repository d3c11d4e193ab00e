"""The Whoosh engine: the archive embedded in an index folder.

``engine.WhooshEngine`` answers the archive's calls; the Whoosh-specific modules it runs on are,
for now, beside the shared ones in ``search/``: ``store`` (folders, ``CURRENT``, the ingest
lock), ``schema`` and ``analysis`` (pickled into every index: their names are part of the index
format), ``postings`` (the ``.rnk`` codec, BM25), ``segments``, ``indexer`` (writers),
``facets`` (facet arrays over document numbers), ``query`` (matching and ranking with numpy;
its parsing is shared), ``operators``, ``story_index`` (its band store and ``IndexStored``;
its ``StoryKeeper`` plans stories on both engines), ``stats``, ``resolution``, ``kwic``,
``significant``, ``trends``.
"""
