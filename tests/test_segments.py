"""``ArraySegmentWriter`` writes the very files Whoosh's own ``SegmentWriter`` writes."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import ID, TEXT, Schema
from whoosh.filedb.filestore import FileStorage
from whoosh.reading import SegmentReader
from whoosh.writing import SegmentWriter

from search.engines.whoosh import store
from search.ingest import check_paths
from search.ingest.records import load_articles
from search.engines.whoosh.postings import RankingCodec
from search.schema import article_to_doc
from search.engines.whoosh.segments import ArraySegmentWriter, supports
from tests.conftest import DEMO, corpus_path

WORDS = ("oil prices rose fell market bank rates talks minister election café Zürich "
         "strike the a of 1987 u.s. coffee harvest port workers union vote").split()


def segment_files(directory: Path) -> dict[str, bytes]:
    """{extension: bytes} of the index's one segment (file names are random)."""
    files = {}
    for path in directory.iterdir():
        name, dot, ext = path.name.partition(".")
        if dot and not name.startswith("_") and ext != "toc":  # segment files: <index>_<id>.<ext>
            assert ext not in files, "more than one segment"
            files[ext] = path.read_bytes()
    return files


def write(directory: Path, docs: list[dict], writer_class) -> None:
    ix, _ = store.create_index(directory, make_current=True)
    try:
        writer = writer_class(ix, codec=RankingCodec(), compound=False)
        for doc in docs:
            writer.add_document(**doc)
        writer.commit()
    finally:
        ix.close()


def made_up_docs(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 300)))
        docs.append({"id": f"d{i}", "fingerprint": f"h{i}:d{i}", "headline": body[:40],
                     "body": body, "people": ", ".join(rng.sample(["Ann Lee", "Bo Diaz",
                                                                   "José Luís"], 2)),
                     "section": rng.choice(["World", "Business"]), "byline": ""})
    return docs


def demo_docs() -> list[dict]:
    files = check_paths([DEMO], None)
    return [article_to_doc(p.article, p.fingerprint)
            for p in load_articles(files, mode="never", on_reject=pytest.fail)]


@pytest.mark.parametrize("source", ["demo", "made up"])
def test_same_files_as_whooshs_writer(tmp_path, source):
    """Postings (blocks of 128, block and term statistics), term table, stored fields,
    columns and the .rnk side file: byte for byte what Whoosh's writer makes of the same
    documents, including a term in more than one block and documents with empty fields."""
    docs = demo_docs() if source == "demo" else made_up_docs(700, seed=7)
    write(tmp_path / "whoosh", docs, SegmentWriter)
    write(tmp_path / "arrays", docs, ArraySegmentWriter)
    theirs, ours = segment_files(tmp_path / "whoosh"), segment_files(tmp_path / "arrays")
    assert {"pst", "trm", "rnk"} <= set(theirs)
    assert sorted(ours) == sorted(theirs)
    for ext in theirs:
        assert ours[ext] == theirs[ext], f"the .{ext} files differ"


def test_same_files_when_merging_segments_with_deletions(tmp_path):
    """Segments merged into a new one (``add_reader``, as the indexer's consolidation does),
    one of them with deleted documents: the merged segment is Whoosh's, byte for byte."""
    results = {}
    for name, writer_class in (("whoosh", SegmentWriter), ("arrays", ArraySegmentWriter)):
        directory = tmp_path / name
        ix, _ = store.create_index(directory, make_current=True)
        try:
            for seed in (1, 2):
                writer = SegmentWriter(ix, codec=RankingCodec(), compound=False)
                for doc in made_up_docs(300, seed):
                    doc["id"] = f"{seed}-{doc['id']}"
                    writer.add_document(**doc)
                writer.commit(merge=False)
            writer = SegmentWriter(ix, codec=RankingCodec(), compound=False)
            for i in range(0, 300, 7):
                writer.delete_by_term("id", f"1-d{i}")
            writer.commit(merge=False)
            old = ix._segments()
            writer = writer_class(ix, codec=RankingCodec(), compound=False)

            def everything(w, segments):
                for segment in segments:
                    reader = SegmentReader(w.storage, w.schema, segment)
                    w.add_reader(reader)
                    reader.close()
                return []

            writer.commit(mergetype=everything)
            (merged,) = ix._segments()
            assert merged.doc_count() == 600 - len(range(0, 300, 7))
            assert {s.segment_id() for s in old}.isdisjoint({merged.segment_id()})
        finally:
            ix.close()
        results[name] = segment_files(directory)
    assert sorted(results["arrays"]) == sorted(results["whoosh"])
    for ext, data in results["whoosh"].items():
        assert results["arrays"][ext] == data, f"the .{ext} files differ"


def test_reuters_sample_same_files(tmp_path):
    """A thousand real wire articles, numbers, tickers and all."""
    folder = corpus_path("reuters21578")
    files = check_paths([folder], None)[:2]
    docs = []
    for p in load_articles(files, mode="never", on_reject=lambda err: None):
        docs.append(article_to_doc(p.article, p.fingerprint))
        if len(docs) == 1000:
            break
    write(tmp_path / "whoosh", docs, SegmentWriter)
    write(tmp_path / "arrays", docs, ArraySegmentWriter)
    theirs, ours = segment_files(tmp_path / "whoosh"), segment_files(tmp_path / "arrays")
    for ext in theirs:
        assert ours[ext] == theirs[ext], f"the .{ext} files differ"


def test_schemas_with_vectors_or_spelling_use_whooshs_writer(tmp_path):
    ix, _ = store.create_index(tmp_path / "ours", make_current=True)
    ix.close()
    assert supports(ix.schema)
    assert not supports(Schema(id=ID(stored=True), body=TEXT(vector=True)))
    stemmed = TEXT(analyzer=StemmingAnalyzer(), spelling=True)
    assert not supports(Schema(id=ID(stored=True), body=stemmed))
    with pytest.raises(ValueError, match="term vectors or spelling"):
        ArraySegmentWriter(FileStorage(str(tmp_path)).create_index(
            Schema(id=ID(stored=True), body=stemmed), indexname="other"))


def test_the_moved_whoosh_modules_keep_their_old_names_for_older_indexes():
    """Indexes written before the Whoosh engine's modules moved into search/engines/whoosh/
    name ``search.postings.RankingCodec`` in their pickled table of contents: a fresh process
    unpickles the old name as the moved class."""
    import pickle
    import subprocess
    import sys

    from search.engines.whoosh.postings import RankingCodec

    old = pickle.dumps(RankingCodec, protocol=0).replace(b"search.engines.whoosh.postings",
                                                         b"search.postings")
    assert b"csearch.postings\n" in old
    code = ("import pickle, sys; import search.engines.whoosh.postings as p; "
            "print(pickle.loads(sys.stdin.buffer.read()) is p.RankingCodec)")
    out = subprocess.run([sys.executable, "-c", code], input=old, capture_output=True,
                         check=True).stdout.split()
    assert out == [b"True"]
