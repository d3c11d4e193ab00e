"""ingest.py end to end, in subprocesses, on indexes in temporary folders."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from search.engines.whoosh import store
from search.schema import doc_to_article
from search.engines.whoosh.stats import archive_stats

from .conftest import DEMO, ROOT, run_ingest, summary_of, write_jsonl


def stored_articles(directory: Path) -> dict:
    ix = store.open_index(directory)
    with ix.searcher() as searcher:
        docs = [doc_to_article(d) for d in searcher.all_stored_fields()]
    ix.close()
    ids = [d.id for d in docs]
    assert len(ids) == len(set(ids)), "an article is stored twice"
    return {d.id: d for d in docs}


def test_demo_archive_ingests_cleanly(demo_index):
    arts = stored_articles(demo_index)
    assert 40 <= len(arts) <= 80
    undated = [a for a in arts.values() if a.date is None]
    assert len(undated) >= 3
    years = {a.date.year for a in arts.values() if a.date}
    assert len(years) >= 5
    # records without a people field got extracted people
    assert "Jonas Merriweather" in arts["mqc-2019-003"].people
    # a letter with a header block and the csv with synonym headers
    assert arts["wire-002"].date.isoformat() == "2022-06-30"
    assert arts["wire-002"].section == "Business"
    stats = archive_stats(demo_index)
    assert stats["articles"] == len(arts) and stats["undated"] == len(undated)


def test_rerun_reports_everything_unchanged(demo_index):
    result = run_ingest("--index", demo_index, "--json", DEMO)
    assert result.returncode == 0, result.stderr
    summary = summary_of(result)
    assert summary["added"] == summary["updated"] == summary["deleted"] == 0
    assert summary["unchanged"] == len(stored_articles(demo_index))
    assert set(summary) == {"added", "updated", "unchanged", "deleted", "rejected", "seconds"}


def test_upsert_update_unchanged_and_delete(tmp_path):
    index = tmp_path / "ix"
    src = write_jsonl(tmp_path / "a.jsonl", [
        {"id": "a", "headline": "Alpha", "people": []},
        {"id": "b", "headline": "Beta", "people": []},
        {"headline": "No id, no url", "body": "hashed", "date": "2020-01-01", "people": []},
    ])
    assert summary_of(run_ingest("--index", index, "--json", src))["added"] == 3
    write_jsonl(src, [
        {"id": "a", "headline": "Alpha (corrected)", "people": []},
        {"id": "b", "headline": "Beta", "people": []},
        {"headline": "No id, no url", "body": "hashed", "date": "2020-01-01", "people": []},
        {"id": "c", "headline": "Gamma", "people": []},
    ])
    s = summary_of(run_ingest("--index", index, "--json", src))
    assert (s["added"], s["updated"], s["unchanged"]) == (1, 1, 2)
    arts = stored_articles(index)
    assert len(arts) == 4 and arts["a"].headline == "Alpha (corrected)"
    s = summary_of(run_ingest("--index", index, "--json", "--delete", "b", "--delete", "nope"))
    assert s["deleted"] == 1
    assert set(stored_articles(index)) == {"a", "c"} | {k for k in arts if k.startswith("h")}


def test_earlier_content_and_deleted_ids_are_not_taken_as_stored(tmp_path):
    """A deleted document's terms stay in Whoosh's lexicon until a merge: an article changed
    back to its first text is an update, and a deleted id ingested again is an addition."""
    index = tmp_path / "ix"
    first = {"id": "a", "headline": "Alpha", "people": []}
    second = {"id": "a", "headline": "Alpha (corrected)", "people": []}
    src = tmp_path / "a.jsonl"
    for record, expected in ((first, (1, 0, 0)), (second, (0, 1, 0)), (first, (0, 1, 0)),
                             (first, (0, 0, 1))):
        s = summary_of(run_ingest("--index", index, "--json", write_jsonl(src, [record])))
        assert (s["added"], s["updated"], s["unchanged"]) == expected
    assert stored_articles(index)["a"].headline == "Alpha"
    assert summary_of(run_ingest("--index", index, "--json", "--delete", "a"))["deleted"] == 1
    s = summary_of(run_ingest("--index", index, "--json", write_jsonl(src, [first, second])))
    assert (s["added"], s["updated"], s["unchanged"]) == (1, 1, 0)
    # the same within one run, batch by batch (the run's own record of what it wrote)
    from search.engines.whoosh.indexer import Indexer
    from search.ingest import check_paths
    from search.ingest.records import load_articles
    src2 = write_jsonl(tmp_path / "b.jsonl", [second, first, second, first])
    with Indexer(index, batch_size=1) as indexer:
        stats = indexer.upsert(load_articles(check_paths([src2], None), on_reject=lambda e: None))
    assert (stats.added, stats.updated, stats.unchanged) == (0, 3, 1)
    assert stored_articles(index)["a"].headline == "Alpha"


def test_same_id_twice_in_one_run_keeps_the_last(tmp_path):
    index = tmp_path / "ix"
    src = write_jsonl(tmp_path / "a.jsonl", [
        {"id": "x", "headline": "First", "people": []},
        {"id": "x", "headline": "Second", "people": []},
    ])
    s = summary_of(run_ingest("--index", index, "--json", src))
    assert (s["added"], s["updated"]) == (1, 1)
    assert stored_articles(index)["x"].headline == "Second"


def test_rejects_are_reported_with_file_and_line_and_exit_1(tmp_path):
    index = tmp_path / "ix"
    src = tmp_path / "mixed.jsonl"
    src.write_text('{"id": "ok1", "headline": "Fine", "people": []}\n'
                   '{"id": "bad", "headline": ""}\n'
                   'not json at all\n'
                   '{"id": "ok2", "headline": "Also fine", "date": "July 2024", "people": []}\n')
    rejects = tmp_path / "rejects.jsonl"
    result = run_ingest("--index", index, "--json", "--rejects", rejects, src)
    assert result.returncode == 1
    s = summary_of(result)
    assert (s["added"], s["rejected"]) == (2, 2)
    assert f"{src}:line 2: neither headline nor body" in result.stderr
    assert f"{src}:line 3: invalid JSON" in result.stderr
    assert "incomplete date 'July 2024'" in result.stderr  # reported, kept undated
    lines = [json.loads(x) for x in rejects.read_text().splitlines()]
    assert [(r["file"], r["location"]) for r in lines] == [(str(src), "line 2"), (str(src), "line 3")]
    arts = stored_articles(index)
    assert set(arts) == {"ok1", "ok2"} and arts["ok2"].date is None


def test_unusable_arguments_exit_2(tmp_path):
    assert run_ingest("--index", tmp_path / "ix", tmp_path / "missing.jsonl").returncode == 2
    assert run_ingest("--index", tmp_path / "ix").returncode == 2  # no PATH
    assert run_ingest("--format", "yaml", DEMO).returncode == 2
    odd = tmp_path / "data.bin"
    odd.write_bytes(b"\x00\x01binary")
    result = run_ingest("--index", tmp_path / "ix", odd)
    assert result.returncode == 2 and "unknown format" in result.stderr
    assert "Traceback" not in result.stderr


def test_format_override(tmp_path):
    src = tmp_path / "export.dat"
    write_jsonl(src, [{"id": "1", "headline": "H", "people": []}])
    s = summary_of(run_ingest("--index", tmp_path / "ix", "--json", "--format", "jsonl", src))
    assert s["added"] == 1


def test_index_from_environment(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "headline": "H", "people": []}])
    result = run_ingest("--json", src, env={"NEWS_INDEX": str(tmp_path / "envix")})
    assert result.returncode == 0, result.stderr
    assert store.exists(tmp_path / "envix")


def test_dry_run_writes_nothing(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "headline": "H", "people": []}])
    s = summary_of(run_ingest("--index", tmp_path / "ix", "--json", "--dry-run", src))
    assert s["added"] == 1
    assert not store.exists(tmp_path / "ix")


def test_rebuild_swaps_in_a_fresh_index(tmp_path):
    index = tmp_path / "ix"
    old = write_jsonl(tmp_path / "old.jsonl", [{"id": f"o{i}", "headline": f"Old {i}", "people": []}
                                               for i in range(5)])
    new = write_jsonl(tmp_path / "new.jsonl", [{"id": f"n{i}", "headline": f"New {i}", "people": []}
                                               for i in range(3)])
    run_ingest("--index", index, old)
    first = store.current_name(index)
    s = summary_of(run_ingest("--index", index, "--json", "--rebuild", new))
    assert s["added"] == 3
    assert set(stored_articles(index)) == {"n0", "n1", "n2"}
    assert store.current_name(index) != first
    assert not [f for f in os.listdir(index) if f.startswith((f"{first}_", f"_{first}_"))]


def test_failed_rebuild_leaves_the_old_index_live(tmp_path):
    index = tmp_path / "ix"
    old = write_jsonl(tmp_path / "old.jsonl", [{"id": "o", "headline": "Old", "people": []}])
    run_ingest("--index", index, old)
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from search.engines.whoosh.indexer import Indexer\nfrom search.models import Article\n"
        "def gen():\n"
        "    yield from (Article(id=f'n{i}', headline='x', body='') for i in range(10))\n"
        "    raise RuntimeError('source broke half way')\n"
        "try:\n"
        "    with Indexer(Path(sys.argv[1]), batch_size=3, rebuild=True) as ix:\n"
        "        ix.upsert(gen())\n"
        "except RuntimeError:\n"
        "    pass\n")
    subprocess.run([sys.executable, "-c", code, str(index)], check=True, cwd=ROOT)
    assert set(stored_articles(index)) == {"o"}
    assert [f for f in os.listdir(index) if f.endswith((".seg", ".trm"))]  # the old segments


def test_second_ingest_waits_for_the_lock_then_fails_clearly(tmp_path):
    index = tmp_path / "ix"
    src = write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "headline": "H", "people": []}])
    with store.ingest_lock(index):
        result = run_ingest("--index", index, "--lock-timeout", "1", src)
    assert result.returncode == 2
    assert "another ingest is writing" in result.stderr and "Traceback" not in result.stderr
    assert run_ingest("--index", index, src).returncode == 0  # lock released with its holder


def test_unwritable_index_directory_fails_clearly(tmp_path):
    if os.geteuid() == 0:
        # root ignores directory permissions; a path under a regular file cannot be created
        index = tmp_path / "file" / "ix"
        (tmp_path / "file").write_text("not a folder")
    else:
        index = tmp_path / "ro"
        index.mkdir()
        index.chmod(0o500)
    src = write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "headline": "H", "people": []}])
    result = run_ingest("--index", index, src)
    assert result.returncode == 2
    assert "cannot" in result.stderr and "Traceback" not in result.stderr


def test_people_option_always_extracts_for_every_record(tmp_path):
    src = write_jsonl(tmp_path / "a.jsonl", [{
        "id": "p", "headline": "Council vote", "people": ["Given Person"],
        "body": "The town's mayor, Helen Brannock, said the vote was close."}])
    run_ingest("--index", tmp_path / "auto", src)
    run_ingest("--index", tmp_path / "always", "--people", "always", src)
    assert stored_articles(tmp_path / "auto")["p"].people == ("Given Person",)
    assert stored_articles(tmp_path / "always")["p"].people == ("Given Person", "Helen Brannock")


def test_core_does_not_import_flask():
    code = "import sys, search.engines.whoosh.indexer, search.ingest.records, search.engines.whoosh.stats; " \
           "print('flask' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.parametrize("fmt_file", ["courier.jsonl", "wire.csv", "letters"])
def test_each_demo_format_alone(tmp_path, fmt_file):
    s = summary_of(run_ingest("--index", tmp_path / "ix", "--json", DEMO / fmt_file))
    assert s["added"] > 0 and s["rejected"] == 0
