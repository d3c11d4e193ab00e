"""Stories: versions of one article grouped at ingest, whatever the order; updates and deletes
re-evaluate; a rebuild equals incremental ingests; templated reports stay apart."""

from __future__ import annotations

import datetime as dt
import itertools
import random
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from bench.stories_eval import companies_differ, rewrite
from search.engines.whoosh import store
from search.errors import StoryNotFound
from search.engines.whoosh.indexer import Indexer
from search.models import Article
from search.schema import doc_to_article
from search.stories import Version, article_sketch, group, similarity
from search.engines.whoosh.story_index import RUN_INFIX, BandStore
from tests.conftest import ENGINES, corpus_path

SYLLABLES = ["ka", "lo", "mi", "ren", "tas", "vo", "pel", "dri", "sun", "ba", "ro", "ne", "qui",
             "mar", "tol", "es", "ul", "fa", "gor", "hin"]


def made_up_article(rng: random.Random, i: int, day: dt.date) -> Article:
    vocabulary = ["".join(rng.sample(SYLLABLES, rng.randint(1, 3))) for _ in range(3000)]

    def sentence() -> str:
        words = [rng.choice(vocabulary) for _ in range(rng.randint(8, 20))]
        return " ".join(words).capitalize() + "."

    paragraphs = [" ".join(sentence() for _ in range(rng.randint(2, 4)))
                  for _ in range(rng.randint(3, 7))]
    return Article(id=f"a{i:03d}", headline=sentence()[:60], body="\n\n".join(paragraphs),
                   date=day)


def made_up_set(seed: int = 3, originals: int = 40) -> list[Article]:
    """Originals and 0-3 rewritten versions of each (dated within three days)."""
    rng = random.Random(seed)
    articles = []
    for i in range(originals):
        a = made_up_article(rng, i, dt.date(2024, 1, 1) + dt.timedelta(days=rng.randint(0, 60)))
        articles.append(a)
        for k in range(rng.choice([0, 0, 1, 2, 3])):
            articles.append(replace(rewrite(a, rng, rng.randint(1, 3)), id=f"{a.id}v{k}"))
    return articles


def version(a: Article) -> Version:
    hashes, signature = article_sketch(a.headline, a.body)
    return Version(a.id, a.date, hashes, signature)


def expected(articles: list[Article]) -> dict[str, str]:
    """{id: story id} by the reference grouping."""
    return {v.id: g[0].id for g in group(version(a) for a in articles) for v in g}


def stored_stories(directory) -> dict[str, tuple[str, tuple]]:
    if isinstance(directory, Kept):
        return directory.stories()
    ix = store.open_index(directory)
    try:
        with ix.searcher() as searcher:
            return {f["id"]: (f["story"], f["story_similarity"])
                    for f in searcher.all_stored_fields()}
    finally:
        ix.close()


@dataclass
class Kept:
    """Where the stories are kept: a Whoosh index folder, or the folders of three Xapian
    shards (written directly, as a bulk load writes them: the same writer as through a
    cluster's servers)."""

    engine: str
    path: Path

    @property
    def shards(self) -> str:
        return ",".join(str(self.path / f"shard-{i}") for i in range(3))

    def indexer(self, **options):
        options.setdefault("processes", 1)
        if self.engine == "xapian":
            from search.engines.xapian.writer import XapianIndexer

            return XapianIndexer(self.shards, **options)
        return Indexer(self.path, **options)

    def stories(self) -> dict[str, tuple[str, tuple]]:
        if self.engine == "whoosh":
            return stored_stories(self.path)
        import xapian

        from search.engines.xapian.documents import document_story, stored

        out = {}
        for part in self.shards.split(","):
            db = xapian.Database(part)
            for posting in db.postlist(""):
                doc = db.get_document(posting.docid)
                story, sim = document_story(doc)
                out[stored(doc)["id"]] = (story, sim)
            db.close()
        return out


@pytest.fixture(params=ENGINES)
def kept(request, tmp_path) -> Kept:
    return Kept(request.param, tmp_path)


def ingest(directory, articles, batch_size=7, rebuild=False):
    target = directory if isinstance(directory, Kept) else Kept("whoosh", directory)
    with target.indexer(batch_size=batch_size, rebuild=rebuild) as ix:
        ix.upsert(articles)


def test_versions_join_their_story_in_any_order_and_a_rebuild_agrees(kept):
    articles = made_up_set()
    truth = expected(articles)
    families = {a.id.split("v")[0] for a in articles}
    # every rewritten version is grouped with its original, and nothing else is
    assert {i: s.split("v")[0] for i, s in truth.items()} == {i: i.split("v")[0] for i in truth}
    assert len(set(truth.values())) == len(families)
    results = []
    for order in range(3):
        shuffled = articles[:]
        random.Random(order).shuffle(shuffled)
        directory = Kept(kept.engine, kept.path / f"order{order}")
        # in three ingests of uneven batches
        ingest(directory, shuffled[:25], batch_size=4)
        ingest(directory, shuffled[25:60], batch_size=11)
        ingest(directory, shuffled[60:], batch_size=100)
        results.append(stored_stories(directory))
        assert {i: s for i, (s, _) in results[-1].items()} == truth
    assert results[0] == results[1] == results[2]  # similarities too
    first = Kept(kept.engine, kept.path / "order0")
    ingest(first, articles, batch_size=13, rebuild=True)
    assert stored_stories(first) == results[0]


def test_lead_is_the_earliest_and_similarity_is_against_it(kept):
    rng = random.Random(5)
    original = made_up_article(rng, 1, dt.date(2024, 3, 10))
    trimmed = replace(rewrite(original, rng, 1), id="later", date=dt.date(2024, 3, 12),
                      body=original.body.rsplit("\n\n", 1)[0])
    earlier = replace(original, id="earlier", headline="LONDON - " + original.headline,
                      date=dt.date(2024, 3, 9))
    ingest(kept, [original, trimmed])
    stories = stored_stories(kept)
    assert stories["later"][0] == stories[original.id][0] == original.id
    containment, jaccard = stories["later"][1]
    assert containment == 1.0 and 0.3 < jaccard < 1.0  # the lead holds all of the trimmed copy
    assert stories[original.id][1] == (1.0, 1.0)
    ingest(kept, [earlier])  # an earlier version becomes the lead of all three
    stories = stored_stories(kept)
    assert {s for s, _ in stories.values()} == {"earlier"}
    assert stories["earlier"][1] == (1.0, 1.0)


def test_undated_versions_come_after_dated_ones_and_ties_go_to_the_smaller_id(kept):
    rng = random.Random(6)
    a = made_up_article(rng, 1, None)
    b = replace(a, id="b", headline="Other headline")
    c = replace(a, id="c", date=dt.date(2020, 1, 1))
    ingest(kept, [a, b])
    assert {s for s, _ in stored_stories(kept).values()} == {"a001"}
    ingest(kept, [c])
    assert {s for s, _ in stored_stories(kept).values()} == {"c"}


def test_versions_a_year_apart_are_different_stories(kept):
    rng = random.Random(7)
    a = made_up_article(rng, 1, dt.date(2020, 1, 1))
    b = replace(a, id="b", date=dt.date(2021, 1, 1))
    ingest(kept, [a, b])
    assert stored_stories(kept)["b"][0] == "b"


def test_an_update_and_a_delete_re_evaluate_the_story(kept):
    rng = random.Random(8)
    lead = made_up_article(rng, 1, dt.date(2024, 5, 1))
    copy = replace(lead, id="copy", date=dt.date(2024, 5, 2), headline="UPDATE 1-" + lead.headline)
    other = made_up_article(rng, 2, dt.date(2024, 5, 2))
    ingest(kept, [lead, copy, other])
    assert stored_stories(kept)["copy"][0] == lead.id
    # the copy rewritten into another article: it leaves the story
    ingest(kept, [replace(copy, body=other.body + "\n\nMore words of its own here.")])
    stories = stored_stories(kept)
    assert stories["copy"][0] == other.id and stories[lead.id][0] == lead.id
    # and back; then the lead deleted: the copy leads its story alone
    ingest(kept, [copy])
    assert stored_stories(kept)["copy"][0] == lead.id
    with kept.indexer() as ix:
        assert ix.delete(["no-such", lead.id, "nor-this"]) == ["no-such", "nor-this"]
        assert ix.stats.deleted == 1
    stories = stored_stories(kept)
    assert lead.id not in stories and stories["copy"] == ("copy", (1.0, 1.0))
    # the stored articles rewritten with their new story are otherwise unchanged
    if kept.engine == "xapian":
        from search.engines.xapian.engine import XapianEngine

        engine = XapianEngine(kept.shards)
        assert engine.article("copy").body == copy.body
        assert engine.story_versions("copy")[0].versions[0].id == "copy"
        with pytest.raises(StoryNotFound):
            engine.story_versions(lead.id)
        engine.close()
        return
    ix = store.open_index(kept.path)
    with ix.searcher() as searcher:
        assert doc_to_article(searcher.document(id="copy")).body == copy.body
    ix.close()
    bands = BandStore(kept.path, store.current_name(kept.path))
    assert bands.count() == 2  # the deleted article's keys are gone
    bands.close()


def test_a_chain_split_by_deleting_its_middle(kept):
    """A-B and B-C are versions, A-C are not: deleting B leaves two stories."""
    rng = random.Random(9)
    first = made_up_article(rng, 1, dt.date(2024, 1, 1))
    while len(first.body.split("\n\n")) < 4:
        first = made_up_article(rng, 1, dt.date(2024, 1, 1))
    paragraphs = first.body.split("\n\n")
    assert len(paragraphs) >= 4
    half = len(paragraphs) // 2
    a = replace(first, id="a", body="\n\n".join(paragraphs[:half]))  # the first half
    b = replace(first, id="b", body=first.body)  # the whole
    c = replace(first, id="c", body="\n\n".join(paragraphs[half:]))  # the second half
    va, vb, vc = version(a), version(b), version(c)
    assert similarity(va.shingles, vb.shingles).same_text
    assert similarity(vb.shingles, vc.shingles).same_text
    assert not similarity(va.shingles, vc.shingles).same_text
    ingest(kept, [a, b, c])
    assert {s for s, _ in stored_stories(kept).values()} == {"a"}
    with kept.indexer() as ix:
        ix.delete(["b"])
    stories = stored_stories(kept)
    assert stories["a"][0] == "a" and stories["c"][0] == "c"


def test_a_missing_band_store_is_made_again(tmp_path):
    articles = made_up_set(seed=4, originals=10)
    ingest(tmp_path, articles[:15])
    runs = list(tmp_path.glob(f"{store.current_name(tmp_path)}{RUN_INFIX}*"))
    assert runs
    for path in runs:
        path.unlink()
    ingest(tmp_path, articles[15:])
    assert {i: s for i, (s, _) in stored_stories(tmp_path).items()} == expected(articles)


def test_band_keys_of_other_sketches_are_made_again(tmp_path):
    """What an earlier version kept (an SQLite table, runs of another sketch version) is
    removed, and the runs are made again from the stored articles."""
    articles = made_up_set(seed=4, originals=10)
    ingest(tmp_path, articles[:15])
    name = store.current_name(tmp_path)
    for path in tmp_path.glob(f"{name}{RUN_INFIX}*"):
        path.rename(path.with_name(path.name.replace(RUN_INFIX, "_story-bands-v1-")))
    (tmp_path / f"{name}_story-bands.sqlite").write_bytes(b"old")
    ingest(tmp_path, articles[15:])
    assert {i: s for i, (s, _) in stored_stories(tmp_path).items()} == expected(articles)
    assert sorted(p.name for p in tmp_path.glob(f"{name}_story-bands*")) == sorted(
        p.name for p in tmp_path.glob(f"{name}{RUN_INFIX}*"))


def test_reuters_earnings_reports_of_different_companies_stay_apart(kept):
    from bench.stories_eval import EARNINGS, load

    folder = corpus_path("reuters21578")
    earnings = [a for a in load(folder / "reut2-000.sgm") if EARNINGS.search(a.body)]
    earnings += [a for a in load(folder / "reut2-001.sgm") if EARNINGS.search(a.body)]
    assert len(earnings) > 150
    ingest(kept, earnings, batch_size=50)
    stories = stored_stories(kept)
    by_id = {a.id: a for a in earnings}
    groups: dict[str, list[str]] = {}
    for i, (s, _) in stories.items():
        groups.setdefault(s, []).append(i)
    for ids in groups.values():
        for x, y in itertools.combinations(ids, 2):
            assert not companies_differ(by_id[x], by_id[y]), (by_id[x].headline, by_id[y].headline)
    assert {i: s for i, (s, _) in stories.items()} == expected(earnings)


def test_the_sketch_is_datasketchs_minhash():
    """``sketch`` computes datasketch's "affine32" MinHash on whole arrays: the same values
    as ``MinHash.update_batch``."""
    import numpy as np
    from datasketch import MinHash

    from search.stories import NUM_PERM, shingles, sketch

    rng = random.Random(11)
    for i in range(20):
        a = made_up_article(rng, i, None)
        hashes = shingles(a.headline, a.body[: rng.randint(10, len(a.body))])
        m = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32", hashfunc=int)
        m.update_batch(hashes.tolist())
        assert np.array_equal(sketch(hashes), m.hashvalues)
        # the shingles: sorted, each once
        assert np.all(hashes[1:] > hashes[:-1])


def test_the_permutations_are_datasketchs_without_importing_it():
    """The permutations ``sketch`` uses are drawn as datasketch draws them, and an ingest does
    not import datasketch (it imports scipy: seconds of every ingest)."""
    import subprocess
    import sys

    import numpy as np
    from datasketch import MinHash

    from search.stories import NUM_PERM, _permutations

    a, b = MinHash(num_perm=NUM_PERM, seed=1, scheme="affine32").permutations
    mine = _permutations()
    assert mine[0].dtype == np.uint32 and mine[1].dtype == np.uint32
    assert np.array_equal(mine[0], a) and np.array_equal(mine[1], b)
    code = ("import sys; from search.stories import article_sketch; "
            "article_sketch('A made-up headline', 'A made-up body of a few words.'); "
            "print('datasketch' in sys.modules, 'scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["False", "False"]


def test_signatures_and_shingles_of_many_articles_at_once_are_each_article_s_own():
    """``signatures`` (the ingest's, a group of texts at a time) gives every article the
    signature ``article_sketch`` gives it alone: texts of every length (none, one or two
    words, a headline in front, over the 64 KiB span), in any script, in groups that fill
    the span."""
    import numpy as np

    from search.stories import many_shingles, shingles, signatures

    rng = random.Random(5)
    texts = [(a.headline, a.body[: rng.randint(0, len(a.body))])
             for a in (made_up_article(rng, i, None) for i in range(300))]
    texts += [("", ""), ("", " -- "), ("Héllo", "wörld"), ("One", "two three"),
              ("Rail line shut", "Closed today"), ("", "Crème brûlée, Ærø, «Ελλάδα» 東京 x y"),
              ("", "word " * 20_000), ("", "y" * 70_000 + " a b c")]
    rng.shuffle(texts)
    out, signed = signatures(texts)
    for k, (headline, body) in enumerate(texts):
        alone = article_sketch(headline, body)[1]
        assert bool(signed[k]) == bool(len(alone))
        assert np.array_equal(out[k], alone if len(alone) else np.zeros_like(out[k]))
    assert signed.sum() == len(texts) - 2
    # and the shingles the same way
    assert all(np.array_equal(made, shingles(*text))
               for made, text in zip(many_shingles(texts), texts))


def test_words_are_the_word_pattern_s_in_any_script_and_each_gets_its_hash():
    import re

    import numpy as np

    from search.analysis import fold
    from search.stories import word_hash, word_hashes, words_of

    ascii_text = "Shr 51 cts vs 38 cts; NET_INCOME up 3.5%\tin Q1 (don't) -- [x]"
    assert words_of("", ascii_text * 3).split() == [
        w.encode() for w in re.findall(r"\w+", (ascii_text * 3).lower())]
    other = "Crème brûlée, Ærø and Dvořák: «Ελλάδα» 東京 — twice as many as before"
    assert words_of("", other).split() == [
        fold(w).encode() for w in re.findall(r"\w+", other.lower())]
    # a body of few words is taken with its headline in front
    assert words_of("Rail line shut", "Closed today").split() == [
        b"rail", b"line", b"shut", b"closed", b"today"]
    # the hashes, on whole arrays, are each word's polynomial hash; a text longer than the
    # span the tables cover is cut at a space, with the same hashes
    for text in (ascii_text, other, "word " * 20_000 + "x" * 60_000 + " last"):
        words = words_of("", text)
        assert word_hashes(words).tolist() == [word_hash(w) for w in words.split()]
    # a word longer than the span (64 KiB) counts as its pieces
    giant = b"y" * 70_000
    assert word_hashes(b"a " + giant).tolist() == [word_hash(b"a"), word_hash(giant[:65536]),
                                                   word_hash(giant[65536:])]
    assert len(word_hashes(b"")) == 0 and word_hashes(b"  a ").dtype == np.uint64


def test_the_band_store_s_runs_hide_earlier_rows_and_merge(tmp_path, monkeypatch):
    import numpy as np

    from search.stories import BANDS, band_keys, sketch

    monkeypatch.setattr(BandStore, "MAX_RUNS", 3)

    def sig(seed: int):
        return sketch(np.random.default_rng(seed).integers(0, 2**32, 50, dtype=np.uint32))

    def held(bands: BandStore, signature) -> set[str]:
        return {run.ids[row] for _, run, rows in bands.holders(band_keys(signature).ravel())
                for row in rows.tolist()}

    def versions(**signatures) -> list[Version]:
        return [Version(i, dt.date(2024, 1, 1), np.zeros(0, np.uint32), s)
                for i, s in signatures.items()]

    bands = BandStore(tmp_path, "news1")
    assert bands.missing
    bands.replace(versions(a=sig(1), b=sig(1), c=sig(2), empty=np.zeros(0, np.uint32)))
    assert held(bands, sig(1)) == {"a", "b"} and bands.count() == 3
    bands.replace(versions(b=sig(3)))  # b's new text: its old keys no longer find it
    assert held(bands, sig(1)) == {"a"} and held(bands, sig(3)) == {"b"}
    bands.remove(["a", "never stored"])
    assert held(bands, sig(1)) == set() and bands.count() == 2
    assert bands.signature("a") is None and np.array_equal(bands.signature("b"), sig(3))
    assert len(bands.signature("empty")) == 0
    bands.replace(versions(d=sig(2)))  # a fourth run: merged into one
    assert len(bands.runs) == 1
    assert len({p.name.split(".")[0] for p in tmp_path.glob(f"news1{RUN_INFIX}*")}) == 1
    assert held(bands, sig(2)) == {"c", "d"}
    # a band held by more than the limit finds nothing
    assert bands.holders(band_keys(sig(2)).ravel(), limit=1) == []
    assert len(bands.holders(band_keys(sig(2)).ravel(), limit=2)[0][0]) == 2 * BANDS
    bands.close()
    # what a killed ingest left of a run it did not finish is not read, and is removed
    seq = int(next(tmp_path.glob("*.ids.json")).name.split("-")[-1].split(".")[0]) + 1
    half = tmp_path / f"news1{RUN_INFIX}{seq:06d}.keys.npy"
    half.write_bytes(b"partial")
    again = BandStore(tmp_path, "news1")
    assert not half.exists() and not again.missing
    assert held(again, sig(2)) == {"c", "d"} and held(again, sig(3)) == {"b"}
    assert again.count() == 3
    again.close()
    # a run that cannot be read (a file gone that its ids file says is there): the store is
    # empty and says so (the indexer then makes it again from the stored articles)
    next(tmp_path.glob(f"news1{RUN_INFIX}*.kind.npy")).unlink()
    broken = BandStore(tmp_path, "news1")
    assert broken.missing and broken.count() == 0
    assert not list(tmp_path.glob(f"news1{RUN_INFIX}*"))
    broken.close()


def test_a_merged_run_holds_exactly_the_rows_that_count(tmp_path, monkeypatch):
    """Runs merged (their sorted keys kept and merged, rows numbered again) hold what one run
    made afresh from the rows that count would: every signed article's band keys, sorted,
    each pointing at its article's row; no key of a replaced or removed row."""
    import random

    import numpy as np

    from search.stories import band_keys, sketch

    monkeypatch.setattr(BandStore, "MAX_RUNS", 2)
    rng = random.Random(5)
    model: dict[str, np.ndarray] = {}  # id: its signature (empty: no words)
    bands = BandStore(tmp_path, "news1")
    merges = 0
    for step in range(40):
        if step % 5 == 4 and model:
            gone = rng.sample(sorted(model), k=min(len(model), rng.randint(1, 4)))
            bands.remove(gone + ["never stored"])
            for i in gone:
                del model[i]
        else:
            batch = {}
            for _ in range(rng.randint(1, 12)):
                i = f"a{rng.randrange(60)}"
                batch[i] = np.zeros(0, np.uint32) if rng.random() < 0.1 else sketch(
                    np.array([rng.randrange(2**32) for _ in range(30)], dtype=np.uint32))
            before = len(bands.runs)
            bands.replace([Version(i, dt.date(2024, 1, 1), None, s) for i, s in batch.items()])
            merges += len(bands.runs) <= before
            model.update(batch)
        assert set(bands.where) == set(model) and bands.count() == sum(
            1 for s in model.values() if len(s))
        for i, s in model.items():
            assert np.array_equal(bands.signature(i), s)
        if len(bands.runs) == 1:  # just merged: the one run is the whole store
            run = bands.runs[0]
            assert sorted(run.ids) == sorted(model) and len(set(run.ids)) == len(run.ids)
            keys = np.asarray(run.keys)
            assert np.all(keys[:-1] <= keys[1:])
            assert sorted(zip(keys.tolist(), (run.ids[r] for r in np.asarray(run.rows)))) == \
                sorted((k, i) for i, s in model.items() if len(s)
                       for k in band_keys(s).ravel().tolist())
    assert merges >= 5
    bands.close()


def test_a_store_that_cannot_be_read_is_made_again(tmp_path):
    articles = made_up_set(seed=4, originals=10)
    ingest(tmp_path, articles[:15])
    next(tmp_path.glob(f"{store.current_name(tmp_path)}{RUN_INFIX}*.rows.npy")).unlink()
    ingest(tmp_path, articles[15:])
    assert {i: s for i, (s, _) in stored_stories(tmp_path).items()} == expected(articles)


def test_sketches_made_ahead_on_processes_give_the_same_stories(kept):
    """With writer processes, sketches are made on a pool while the batch is read: the
    stories are those of the reference."""
    articles = made_up_set(seed=12, originals=320)
    assert len(articles) > 2 * 250  # more than one task ahead, and the pool's own path
    with kept.indexer(batch_size=len(articles), processes=2) as ix:
        ix.upsert(articles)
    assert {i: s for i, (s, _) in stored_stories(kept).items()} == expected(articles)


def test_an_index_without_stories_stays_so_and_one_with_them_refuses_to_lose_them(tmp_path):
    from search.analysis import index_format
    from search.errors import IndexOutdated
    from search.models import SearchRequest
    from search.service import Archive

    articles = made_up_set(seed=4, originals=10)
    assert len(set(expected(articles).values())) < len(articles)  # it holds versions
    plain = tmp_path / "plain"
    with Indexer(plain, processes=1, stories=False) as ix:
        ix.upsert(articles[:20])
    ingest(plain, articles[20:])  # later ingests keep the index's choice
    ix = store.open_index(plain)
    assert index_format(ix.schema) == 5 and "story" not in ix.schema
    ix.close()
    assert not list(plain.glob(f"*{RUN_INFIX}*"))
    archive = Archive(plain)
    result = archive.search(SearchRequest(q="", per_page=5))
    assert result.total == result.stories == len(articles)  # every article a story of its own
    archive.close()
    # an index keeping stories is not written without them, but a rebuild may drop them
    kept = tmp_path / "kept"
    ingest(kept, articles)
    with pytest.raises(IndexOutdated, match="--rebuild --no-stories"):
        with Indexer(kept, processes=1, stories=False) as ix:
            ix.upsert(articles[:1])
    assert {i: s for i, (s, _) in stored_stories(kept).items()} == expected(articles)
    with Indexer(kept, processes=1, stories=False, rebuild=True) as ix:
        ix.upsert(articles)
    ix = store.open_index(kept)
    assert "story" not in ix.schema and ix.doc_count() == len(articles)
    ix.close()
    ingest(kept, articles, rebuild=True)  # and a rebuild without the flag brings them back
    assert {i: s for i, (s, _) in stored_stories(kept).items()} == expected(articles)


def test_a_cluster_without_stories_stays_so_and_one_with_them_refuses_to_lose_them(tmp_path):
    """As an index on the Whoosh engine: the first ingest (or a rebuild) makes the choice."""
    from search.engines.xapian.engine import XapianEngine
    from search.errors import IndexOutdated
    from search.models import SearchRequest

    articles = made_up_set(seed=4, originals=10)
    stories = len(set(expected(articles).values()))
    assert stories < len(articles)

    def counted(where: Kept) -> tuple[int, int]:
        engine = XapianEngine(where.shards)
        result = engine.search(SearchRequest(q="", per_page=5))
        engine.close()
        return result.total, result.stories

    plain = Kept("xapian", tmp_path / "plain")
    with plain.indexer(stories=False) as ix:
        ix.upsert(articles[:20])
    ingest(plain, articles[20:])  # later ingests keep the cluster's choice
    assert counted(plain) == (len(articles), len(articles))
    assert {s for s, _ in plain.stories().values()} == {None}
    kept = Kept("xapian", tmp_path / "kept")
    ingest(kept, articles)
    with pytest.raises(IndexOutdated, match="--rebuild --no-stories"):
        with kept.indexer(stories=False) as ix:
            ix.upsert(articles[:1])
    assert counted(kept) == (len(articles), stories)
    with kept.indexer(stories=False, rebuild=True) as ix:
        ix.upsert(articles)
    assert counted(kept) == (len(articles), len(articles))
    ingest(kept, articles, rebuild=True)  # and a rebuild without the flag brings them back
    assert {i: s for i, (s, _) in kept.stories().items()} == expected(articles)
    assert counted(kept) == (len(articles), stories)
