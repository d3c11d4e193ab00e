"""Stories on the cluster: what ``search.story_keeper.StoryKeeper.plan`` reads of the articles
stored, from the shards being written (``ShardStored``: the Whoosh engine reads a searcher and
the band store beside its index).

The grouping itself is shared (``search.stories``, ``StoryKeeper``): each batch's articles
are compared with the stored articles sharing a band with them, and the stories they touch
are worked out again. Here the band keys are terms of the documents (``XK``), the sketches a
value, the story a term and values (``search.engines.xapian.documents``), so the stored side
is a few queries on the shards a batch: one for the keys' frequencies (a key more than
``MAX_BAND_HOLDERS`` articles hold finds none), one for their holders, one for the articles
the batch replaces or compares, one a story that loses a version. The ingest that writes is
the only writer of every shard (``xapian-tcpsrv --writable`` takes one writer), so planning
against what is committed sees every earlier batch.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import xapian

from search.engines.xapian.documents import (SLOT_DAY, SLOT_SHARED, SLOT_SKETCH, band_term,
                                             document_article, document_story, id_term,
                                             set_story, sketch_of, slot_day, stored,
                                             story_term)
from search.stories import BANDS, MAX_BAND_HOLDERS, Version, band_keys
from search.story_keeper import UNDATED, Stored, version_of

CHUNK = 4_096  # terms in one query


class _Holders:
    """The stored articles holding some of a batch's band keys, as ``StoryKeeper`` reads a
    band store's run: their ids, days and signatures by row."""

    def __init__(self, ids: list[str], days: np.ndarray, sigs: np.ndarray):
        self.ids, self.days, self.sigs = ids, days, sigs


def _matches(db: xapian.Database, terms: list[str]) -> Iterable[xapian.MSetItem]:
    for i in range(0, len(terms), CHUNK):
        enquire = xapian.Enquire(db)
        enquire.set_weighting_scheme(xapian.BoolWeight())
        enquire.set_query(xapian.Query(xapian.Query.OP_OR, terms[i:i + CHUNK]))
        mset = enquire.get_mset(0, max(1, db.get_doccount()))
        mset.fetch()
        yield from mset


class ShardStored:
    """The stored side of ``StoryKeeper.plan`` on the shards ``db`` joins (the ingest's
    writers). ``rewrite`` gives (article id, document, story): the ingest sets the story when
    it knows whether the story is shared (``documents.set_story``)."""

    def __init__(self, db: xapian.Database):
        self.db = db

    def documents(self, ids: Iterable[str]) -> dict[str, tuple[xapian.Document, dict]]:
        """The stored documents, and their data, of those of ``ids`` the shards hold."""
        ids = set(ids)
        out = {}
        for item in _matches(self.db, sorted({id_term(i) for i in ids})):
            doc = item.document
            data = stored(doc)
            if data["id"] in ids:
                out[data["id"]] = doc, data
        return out

    def stored(self, ids: Iterable[str]) -> dict[str, Stored]:
        out = {}
        for article_id, (doc, data) in self.documents(ids).items():
            article = document_article(doc, data)
            story, sim = document_story(doc)
            sketch = sketch_of(doc.get_value(SLOT_SKETCH))
            # (no sketch: an article without words, or one written before stories were kept)
            version = version_of(article) if sketch is None else Version(
                article.id, article.date, None, sketch[1], (article.headline, article.body))
            out[article_id] = Stored(doc, story, sim, version)
        return out

    def members(self, story_id: str) -> list[str]:
        return [stored(item.document)["id"] for item in _matches(self.db, [story_term(story_id)])]

    def holders(self, keys: np.ndarray, limit: int = MAX_BAND_HOLDERS) -> list[tuple]:
        """The stored articles holding each of ``keys`` that no more than ``limit`` hold: [(
        positions in ``keys``, their holders, the holders' rows)] (as ``BandStore.holders``)."""
        keys = np.asarray(keys, dtype=np.uint64)
        unique = np.unique(keys)
        if not len(unique) or not self.db.get_doccount():
            return []
        terms = [band_term(k) for k in unique.tolist()]
        kept, kept_keys = [], []
        for i in range(0, len(terms), CHUNK):
            part = terms[i:i + CHUNK]
            enquire = xapian.Enquire(self.db)
            enquire.set_weighting_scheme(xapian.BoolWeight())
            enquire.set_query(xapian.Query(xapian.Query.OP_OR, part))
            mset = enquire.get_mset(0, 0)
            for k, t in enumerate(part, i):
                if 0 < mset.get_termfreq(t) <= limit:
                    kept.append(t)
                    kept_keys.append(unique[k])
        if not kept:
            return []
        ids, days, sigs = [], [], []
        for item in _matches(self.db, kept):
            doc = item.document
            sketch = sketch_of(doc.get_value(SLOT_SKETCH))
            if sketch is None:
                continue
            ids.append(sketch[0])
            sigs.append(sketch[1])
            day = doc.get_value(SLOT_DAY).decode("ascii")
            days.append(slot_day(day).toordinal() if day else UNDATED)
        if not ids:
            return []
        sigs = np.stack(sigs)
        held = band_keys(sigs).ravel()
        rows = np.repeat(np.arange(len(ids)), BANDS)
        wanted = np.isin(held, np.array(kept_keys, dtype=np.uint64))
        held, rows = held[wanted], rows[wanted]
        order = np.argsort(keys, kind="stable")
        ordered = keys[order]
        left = np.searchsorted(ordered, held, "left")
        right = np.searchsorted(ordered, held, "right")
        counts = right - left
        q = order[np.repeat(left, counts) + np.arange(int(counts.sum()))
                  - np.repeat(np.cumsum(counts) - counts, counts)]
        return [(q, _Holders(ids, np.array(days, dtype=np.int32), sigs),
                 np.repeat(rows, counts))]

    def rewrite(self, s: Stored, story: tuple[str, tuple[float, float]]):
        return s.version.id, s.record, story

    def unshared(self, leads: Iterable[str]) -> dict[str, xapian.Document]:
        """The stored documents of ``leads`` not yet marked as leads of shared stories."""
        return {i: doc for i, (doc, _) in self.documents(leads).items()
                if not doc.get_value(SLOT_SHARED)}


def story_documents(plan, source: ShardStored) -> list[tuple[str, bytes]]:
    """The stored documents ``plan`` (a ``StoryKeeper`` plan on ``source``) changes, with
    their new stories, serialised: the rewrites, and the stored leads of stories that now
    have other versions."""
    out = []
    rewritten = set()
    for article_id, doc, story in plan.rewrites:
        set_story(doc, article_id, story, article_id in plan.shared)
        out.append((article_id, doc.serialise()))
        rewritten.add(article_id)
    leads = plan.shared - set(plan.story) - rewritten
    for article_id, doc in source.unshared(leads).items():
        story, sim = document_story(doc)
        set_story(doc, article_id, (story or article_id, sim or (1.0, 1.0)), True)
        out.append((article_id, doc.serialise()))
    return out
