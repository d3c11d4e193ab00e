"""What a new user meets in the first hour: data safety in ingest.py, messy corpora, accents and
stems, query syntax surprises and the page's defaults (issue 12)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from whoosh.analysis import StemmingAnalyzer
from whoosh.fields import KEYWORD

from search.engines.whoosh import store
from search.analysis import INDEX_FORMAT
from search.engines.whoosh.indexer import Indexer
from search.ingest import check_paths
from search.ingest.records import load_articles
from search.models import SearchRequest
from search.params import parse_search_params
from search.schema import article_to_doc, build_schema, doc_to_article
from search.service import Archive
from web import create_app

from .conftest import DEMO, corpus_path, run_ingest, summary_of, write_jsonl
from .test_ingest_cli import stored_articles


def count(index: Path) -> int:
    return len(stored_articles(index))


@pytest.fixture
def demo_copy(tmp_path):
    index = tmp_path / "ix"
    assert run_ingest("--index", index, DEMO).returncode == 0
    return index


# -- data safety -------------------------------------------------------------------------------

def test_rebuild_with_delete_is_refused_and_changes_nothing(demo_copy):
    before = stored_articles(demo_copy)
    some_id = next(iter(before))
    for args in (("--rebuild", "--delete", some_id, DEMO), ("--delete", some_id, "--rebuild", DEMO)):
        result = run_ingest("--index", demo_copy, *args)
        assert result.returncode == 2
        assert "--rebuild and --delete cannot be combined" in result.stderr
    assert stored_articles(demo_copy).keys() == before.keys()


def test_rebuild_counts_what_it_drops_and_dry_run_previews_it(demo_copy):
    total = count(demo_copy)
    wire = DEMO / "wire.csv"
    kept = sum(1 for line in wire.read_text(encoding="utf-8").splitlines()[1:] if line.strip())
    preview = run_ingest("--index", demo_copy, "--rebuild", "--dry-run", wire)
    assert preview.returncode == 0, preview.stderr
    assert f"would keep {kept}, drop {total - kept}" in preview.stdout
    assert count(demo_copy) == total  # a dry run writes nothing
    s = summary_of(run_ingest("--index", demo_copy, "--rebuild", "--json", wire))
    assert (s["kept"], s["deleted"]) == (kept, total - kept)
    assert s["unchanged"] == kept and s["added"] == 0
    assert count(demo_copy) == kept


@pytest.mark.parametrize("order", ["delete-first", "path-first"])
def test_delete_takes_one_id_and_the_path_is_still_ingested(tmp_path, order):
    index = tmp_path / "ix"
    first = write_jsonl(tmp_path / "a.jsonl", [{"id": "a", "headline": "Alpha", "people": []},
                                              {"id": "b", "headline": "Beta", "people": []}])
    run_ingest("--index", index, first)
    more = write_jsonl(tmp_path / "more.jsonl", [{"id": "c", "headline": "Gamma", "people": []}])
    args = ("--delete", "a", more) if order == "delete-first" else (more, "--delete", "a")
    s = summary_of(run_ingest("--index", index, "--json", *args))
    assert (s["added"], s["deleted"]) == (1, 1)
    assert set(stored_articles(index)) == {"b", "c"}


def test_text_files_sharing_headline_and_opening_stay_apart_and_rerun_is_unchanged(tmp_path):
    folder = tmp_path / "texts"
    folder.mkdir()
    opening = "The harbour board met on Tuesday to discuss the silting of the channel. " * 8
    (folder / "one.txt").write_text("Harbour board meets\n\n" + opening + "Dredging starts in May.")
    (folder / "two.txt").write_text("Harbour board meets\n\n" + opening + "Dredging is postponed.")
    (folder / "three.txt").write_text("Harbour board meets\n\n" + opening + "Dredging starts in May.")
    index = tmp_path / "ix"
    s = summary_of(run_ingest("--index", index, "--json", "--people", "never", folder))
    assert (s["added"], s["unchanged"]) == (2, 1)  # three.txt is one.txt again
    assert count(index) == 2
    for _ in range(2):
        again = summary_of(run_ingest("--index", index, "--json", "--people", "never", folder))
        assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, 3)


def test_unchanged_articles_are_not_extracted_again(tmp_path, monkeypatch):
    """"Unchanged" is decided from the input, before people are extracted: a re-run of
    unchanged text files never calls the extractor."""
    import search.people as people

    folder = tmp_path / "texts"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.txt").write_text(f"Ferry news {i}\n\nCaptain Mara Quill said the ferry "
                                         f"number {i} sails at noon.")
    index = tmp_path / "ix"
    calls: list[int] = []
    real = people.extract_entities_many

    def counting(texts, *args, **kwargs):
        calls.append(len(texts))
        return real(texts, *args, **kwargs)

    monkeypatch.setattr(people, "extract_entities_many", counting)
    with Indexer(index, processes=1) as indexer:
        indexer.upsert(load_articles(check_paths([folder], None), on_reject=print))
    assert sum(calls) == 3 and indexer.stats.added == 3
    calls.clear()
    with Indexer(index, processes=1) as indexer:
        indexer.upsert(load_articles(check_paths([folder], None), on_reject=print))
    assert calls == [] and indexer.stats.unchanged == 3


# -- messy corpora -----------------------------------------------------------------------------

def test_documentation_is_skipped_and_sections_can_come_from_folders(tmp_path):
    root = tmp_path / "bbc"
    for section in ("business", "sport"):
        (root / section).mkdir(parents=True)
        (root / section / "001.txt").write_text(f"A {section} headline\n\nThe {section} body.")
    (root / "README.TXT").write_text("Consists of 2 documents from the BBC news website.\n")
    index = tmp_path / "ix"
    result = run_ingest("--index", index, "--json", "--people", "never", root)
    assert summary_of(result)["added"] == 2 and "README.TXT" in result.stderr
    assert {a.section for a in stored_articles(index).values()} == {""}
    result = run_ingest("--index", index, "--json", "--people", "never", "--rebuild",
                        "--section-from-folder", root)
    assert summary_of(result)["updated"] == 2
    assert {a.section for a in stored_articles(index).values()} == {"business", "sport"}
    # a section of the record's own wins over the folder's name
    (root / "sport" / "002.txt").write_text("Section: Rugby\n\nRugby headline\n\nRugby body.")
    run_ingest("--index", index, "--section-from-folder", "--people", "never", root)
    assert {a.section for a in stored_articles(index).values()} == {"business", "sport", "Rugby"}


def test_csv_delimiter_is_detected_and_a_header_without_known_columns_is_rejected_once(tmp_path):
    good = tmp_path / "semi.csv"
    good.write_text("id;title;text;published\nx1;Quay reopens;The quay reopened;2021-05-02\n"
                    'x2;"Ferry; delayed";Fog again;2021-05-03\n', encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("col_a,col_b\n" + "".join(f"v{i},w{i}\n" for i in range(500)))
    index = tmp_path / "ix"
    result = run_ingest("--index", index, "--json", "--people", "never", good, bad)
    assert result.returncode == 1
    s = summary_of(result)
    assert (s["added"], s["rejected"]) == (2, 1)
    rejected = [ln for ln in result.stderr.splitlines() if ln.startswith("rejected")]
    assert len(rejected) == 1 and "bad.csv:line 1" in rejected[0]
    assert "'col_a', 'col_b'" in rejected[0] and "headline" in rejected[0] and "body" in rejected[0]
    arts = stored_articles(index)
    assert arts["x2"].headline == "Ferry; delayed" and arts["x2"].date.isoformat() == "2021-05-03"


def test_an_empty_folder_says_there_is_nothing_to_ingest(tmp_path):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "README.md").write_text("nothing here")
    result = run_ingest("--index", tmp_path / "ix", empty)
    assert result.returncode == 2 and "nothing to ingest" in result.stderr
    assert not store.exists(tmp_path / "ix")


def test_progress_lines_when_stderr_is_not_a_terminal(capsys):
    import ingest

    progress = ingest.Progress(rejects=[])
    progress.EVERY = 0.0
    assert list(progress.reading(iter(range(3)))) == [0, 1, 2]
    progress.say("12 articles committed")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 4 and all(ln.startswith("ingest: ") for ln in lines)
    assert "3 articles read" in lines[-1] and "12 articles committed" in lines[-1]


@pytest.mark.corpus
def test_bbc_folder_as_a_user_loads_it(tmp_path):
    bbc = corpus_path("bbc_news", "bbc")
    files = [p for p in bbc.rglob("*.txt")]
    index = tmp_path / "ix"
    first = run_ingest("--index", index, "--json", "--people", "never", "--section-from-folder", bbc)
    s = summary_of(first)
    assert s["added"] + s["unchanged"] == len(files) and s["updated"] == 0 and s["rejected"] == 0
    arts = stored_articles(index)
    assert {a.section for a in arts.values()} == {"business", "entertainment", "politics",
                                                  "sport", "tech"}
    assert not any("BBC" in a.headline and "Consists of" in a.body for a in arts.values())
    again = summary_of(run_ingest("--index", index, "--json", "--people", "never",
                                  "--section-from-folder", bbc))
    assert (again["added"], again["updated"], again["unchanged"]) == (0, 0, len(files))


# -- accents and stems -------------------------------------------------------------------------

ACCENTED = [
    {"id": "k1", "headline": "Café society returns to the quay", "people": ["Khloé Ardent"],
     "section": "Économie", "body": "The café on the quay reopened. Khloé Ardent was running it.",
     "date": "2022-04-01"},
    {"id": "k2", "headline": "José Ibarra runs the harbour café", "people": ["José Ibarra"],
     "body": "He runs the cafe with his brother.", "section": "Economie", "date": "2022-05-01"},
    {"id": "k3", "headline": "Tide tables", "people": ["Jose Ibarra"], "body": "Low water at six.",
     "date": "2022-06-01"},
]


@pytest.fixture(scope="module")
def accented(tmp_path_factory):
    folder = tmp_path_factory.mktemp("accents")
    index = folder / "ix"
    assert run_ingest("--index", index, write_jsonl(folder / "a.jsonl", ACCENTED)).returncode == 0
    archive = Archive(index)
    yield archive
    archive.close()


def ids(archive, **params) -> set[str]:
    req = parse_search_params({k: v if isinstance(v, list) else [v] for k, v in params.items()})
    return {h.id for h in archive.search(req).hits}


def test_accents_and_case_do_not_matter_in_words_names_and_sections(accented):
    for q in ("café", "cafe", "CAFÉ", "cafés", "Cafes"):
        assert ids(accented, q=q) == {"k1", "k2"}, q
    for q in ("khloe", "Khloé", 'people:"khloe ardent"', 'person:"KHLOÉ ARDENT"'):
        assert ids(accented, q=q) == {"k1"}, q
    assert ids(accented, person="Jose Ibarra") == {"k2", "k3"}
    assert ids(accented, person="José Ibarra") == {"k2", "k3"}
    assert ids(accented, section="economie") == ids(accented, section="Économie") == {"k1", "k2"}
    res = accented.search(SearchRequest(q="Khloé"))
    assert res.suggestion is None
    # names are shown as written
    assert res.hits[0].people == ("Khloé Ardent",)
    assert "<mark>Khloé</mark>" in res.hits[0].snippet_html


def test_snowball_stems_join_running_and_runs(accented):
    assert ids(accented, q="running") == ids(accented, q="runs") == ids(accented, q="run") \
        == {"k1", "k2"}


def test_an_index_made_before_folding_is_still_searched_and_ingest_asks_for_a_rebuild(tmp_path):
    """Format 1 (Porter stems, no folding): the pages keep working; ingest refuses to write
    into it and says to rebuild."""
    from whoosh.filedb.filestore import FileStorage

    old = build_schema()
    for name in ("headline", "body"):
        old[name].analyzer = StemmingAnalyzer()
        old[name].__dict__.pop("_one_pass", None)
    old.remove("people")
    old.add("people", KEYWORD(stored=True, commas=True, lowercase=True, scorable=True))
    index = tmp_path / "ix"
    index.mkdir()
    ix = FileStorage(str(index)).create_index(old, indexname="news1")
    (index / "CURRENT").write_text("news1")
    writer = ix.writer()
    articles = list(load_articles(check_paths([DEMO / "courier.jsonl"], None), on_reject=print))
    for p in articles:
        writer.add_document(**article_to_doc(p.article, p.fingerprint))
    writer.commit()
    ix.close()
    archive = Archive(index)
    harbour = {p.article.id for p in articles
               if re.search(r"\bharbours?\b", f"{p.article.headline} {p.article.body}", re.I)}
    found = archive.search(SearchRequest(q="harbour", per_page=100))
    assert {h.id for h in found.hits} == harbour and len(harbour) >= 5
    assert archive.stats()["index_format"] == 1
    archive.close()
    result = run_ingest("--index", index, DEMO / "wire.csv")
    assert result.returncode == 2 and "--rebuild" in result.stderr and "format 1" in result.stderr
    assert run_ingest("--index", index, "--rebuild", DEMO).returncode == 0
    archive = Archive(index)
    assert archive.stats()["index_format"] == INDEX_FORMAT
    archive.close()


# -- query syntax ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def demo(demo_index):
    archive = Archive(demo_index)
    yield archive
    archive.close()


def total(archive, q: str, **kw) -> int:
    return archive.search(SearchRequest(q=q, **kw)).total


def test_a_lone_minus_word_means_every_article_without_it(demo):
    everything = total(demo, "")
    res = demo.search(SearchRequest(q="-harbour", per_page=100))
    assert res.total == everything - total(demo, "harbour") > 0
    assert not res.notes
    assert "harbour" not in " ".join(h.headline.lower() for h in res.hits)
    assert total(demo, "-harbour -ferry") == everything - total(demo, "harbour OR ferry")
    dates = [h.date for h in res.hits if h.date]
    assert dates == sorted(dates, reverse=True)  # nothing to rank by: newest first


def test_a_refused_prefix_is_refused_in_every_field_as_its_note_says(demo, monkeypatch):
    import search.query as query
    from search.engines.whoosh import store as st

    ix = st.open_index(demo.directory)
    with ix.searcher() as s:
        heads = sum(1 for _ in s.reader().expand_prefix("headline", "ha"))
        bodies = sum(1 for _ in s.reader().expand_prefix("body", "ha"))
    ix.close()
    assert heads < bodies
    monkeypatch.setattr(query, "MAX_EXPANSIONS", heads)  # fine in headlines, too many in bodies
    res = demo.search(SearchRequest(q="ha*"))
    assert any("'ha*' was left out" in n for n in res.notes)
    assert res.total == total(demo, "")  # nothing left: the whole archive, as the note says
    res = demo.search(SearchRequest(q="ha* ferry"))
    assert res.total == total(demo, "ferry")


def test_lower_case_or_and_not_are_operators(demo):
    assert total(demo, "harbour or ferry") == total(demo, "harbour OR ferry") \
        > total(demo, "harbour")
    assert total(demo, "harbour not ferry") == total(demo, "harbour NOT ferry") \
        == total(demo, "harbour") - total(demo, "harbour ferry")


# -- the page ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def client(demo_index):
    app = create_app({"NEWS_INDEX": str(demo_index), "TESTING": True})
    yield app.test_client()
    app.extensions["archive"].close()


def test_home_page_form_does_not_send_newest_with_a_query(client):
    html = client.get("/").get_data(as_text=True)
    select = re.search(r'<select name="sort"[^>]*>(.*?)</select>', html, re.S).group(1)
    selected = re.findall(r'<option value="([^"]*)"[^>]*selected', select)
    assert selected in ([], [""])  # the default option sends no sort
    assert re.search(r'<option value=""[^>]*>Newest first</option>', select)
    # what that form sends with a query: relevance
    resp = client.get("/?q=harbour&sort=", follow_redirects=False)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/?q=harbour")
    page = client.get("/?q=harbour").get_data(as_text=True)
    api = client.get("/api/search?q=harbour").get_json()
    assert api["query"]["sort"] == "relevance"
    assert re.findall(r'data-id="([^"]+)"', page)[:3] == [h["id"] for h in api["hits"][:3]]


def test_empty_parameters_are_left_out_of_the_address(client):
    resp = client.get("/?q=ferry&person=&from=&to=&section=Sport")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/?q=ferry&section=Sport")
    assert client.get("/?").status_code == 200


def test_back_to_search_keeps_the_whole_search(client):
    search = "/?q=harbour&person=Caspian+Lowe&sort=oldest&page=2&per_page=2"
    html = client.get(search).get_data(as_text=True)
    link = re.search(r'<h2><a href="(/articles/[^"]+)"', html).group(1).replace("&amp;", "&")
    assert "q=harbour" in link and "person=Caspian+Lowe" in link and "page=2" in link
    article = client.get(link).get_data(as_text=True)
    back = re.search(r'<p class="back"><a href="([^"]+)"', article).group(1).replace("&amp;", "&")
    assert back == search
    assert "<mark>" in article  # the search's words are still marked


def test_people_any_or_all_of_the_ticked(client, demo):
    two = ["Tobias Wren", "Caspian Lowe"]
    either = client.get("/api/search?" + "&".join(f"person={p.replace(' ', '+')}" for p in two))
    both = client.get("/api/search?person_match=all&" +
                      "&".join(f"person={p.replace(' ', '+')}" for p in two))
    stored = [doc_to_article(d) for d in _all_docs(demo.directory)]
    assert either.get_json()["total"] == sum(1 for a in stored if set(two) & set(a.people))
    assert both.get_json()["total"] == sum(1 for a in stored if set(two) <= set(a.people)) > 0
    assert both.get_json()["query"]["person_match"] == "all"
    # in "all" mode a person's count is what ticking them would leave
    counts = {v["value"]: v["count"] for v in both.get_json()["facets"]["people"]}
    assert counts["Tobias Wren"] == counts["Caspian Lowe"] == both.get_json()["total"]
    page = client.get("/?person=Tobias+Wren&person=Caspian+Lowe").get_data(as_text=True)
    assert "any</strong> of the ticked people" in page and "person_match=all" in page
    page = client.get("/?person=Tobias+Wren&person=Caspian+Lowe&person_match=all")
    assert "<strong>all</strong> the ticked people" in page.get_data(as_text=True)
    assert client.get("/api/search?person_match=some").status_code == 400


def _all_docs(directory):
    ix = store.open_index(directory)
    with ix.searcher() as s:
        docs = list(s.all_stored_fields())
    ix.close()
    return docs


def test_out_of_range_page_says_so_and_the_pager_has_numbers(client):
    api = client.get("/api/search?q=harbour&per_page=2").get_json()
    last = api["pages"]
    assert last >= 4
    html = client.get(f"/?q=harbour&per_page=2&page={last + 5}").get_data(as_text=True)
    assert f"there is no page {last + 5}: this search has {last} pages" in html
    assert f"page={last}\">Go to the last page ({last})" in html.replace("&amp;", "&")
    html = client.get("/?q=harbour&per_page=2").get_data(as_text=True)
    pager = re.search(r'<nav class="pager".*?</nav>', html, re.S).group(0)
    assert re.search(r'aria-current="page"[^>]*>1<', pager)
    assert f'aria-label="Page {last}, the last"' in pager
    assert 'aria-label="Page 2"' in pager


def test_no_empty_filter_headings_without_results(client):
    html = client.get("/?q=zzzqqqxx").get_data(as_text=True)
    assert "No articles found" in html
    for legend in ("People", "Section", "Year"):
        assert f"<legend>{legend}</legend>" not in html


def test_year_histogram_shows_empty_years():
    from web.views import year_bars

    values = [{"value": 2019, "count": 3, "selected": False},
              {"value": 2022, "count": 1, "selected": True}]
    bars = year_bars(values)
    assert [b["value"] for b in bars] == [2019, 2020, 2021, 2022]
    assert [b["count"] for b in bars] == [3, 0, 0, 1] and bars[3]["selected"]
    assert year_bars([]) == []
    wide = [{"value": 1066, "count": 1, "selected": False},
            {"value": 2020, "count": 1, "selected": False}]
    assert year_bars(wide) == wide  # an implausible span is not filled


def test_json_summary_of_a_rebuild_has_kept(tmp_path):
    result = run_ingest("--index", tmp_path / "ix", "--rebuild", "--json", DEMO / "wire.csv")
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["kept"] == summary["added"] and summary["deleted"] == 0


@pytest.mark.parametrize("rebuild", [False, True])
def test_an_id_that_returns_in_a_later_batch_of_one_run_is_stored_once(tmp_path, rebuild):
    index = tmp_path / "ix"
    run_ingest("--index", index, write_jsonl(tmp_path / "old.jsonl", [
        {"id": "a", "headline": "Alpha", "people": []},
        {"id": "z", "headline": "Zeta", "people": []}]))
    records = [{"id": "a", "headline": "Alpha", "people": []},
               {"id": "b", "headline": "Beta", "people": []},
               {"id": "c", "headline": "Gamma", "people": []},
               {"id": "a", "headline": "Alpha again", "people": []},
               {"id": "d", "headline": "Delta", "people": []},
               {"id": "b", "headline": "Beta", "people": []}]
    src = write_jsonl(tmp_path / "new.jsonl", records)
    args = ["--index", index, "--json", "--batch-size", "2", src] + (["--rebuild"] if rebuild else [])
    s = summary_of(run_ingest(*args))
    arts = stored_articles(index)  # (fails if an id is stored twice)
    assert arts["a"].headline == "Alpha again"
    assert set(arts) == ({"a", "b", "c", "d"} if rebuild else {"a", "b", "c", "d", "z"})
    # a: unchanged then updated; b: added then unchanged; c, d added
    assert (s["added"], s["updated"], s["unchanged"]) == (3, 1, 2)
    assert s["deleted"] == (1 if rebuild else 0)


@pytest.mark.parametrize("param", ["year", "page", "per_page", "facet_size"])
@pytest.mark.parametrize("value", ["¹¹¹¹", "②", "١٢", "1²", "＋3"])
def test_numbers_are_ascii_digits_only(client, param, value):
    """"year=¹¹¹¹" answered 500 (isdigit() accepts it, int() does not)."""
    resp = client.get("/api/search", query_string={param: value})
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == param
    assert client.get("/", query_string={param: value}).status_code == 400


def test_an_index_with_no_articles_answers_200_everywhere(tmp_path):
    """The first batch of every fresh ingest: the index exists, nothing is committed yet.
    Every endpoint answered 500 (Whoosh's empty reader has no columns)."""
    index = tmp_path / "ix"
    index.mkdir()
    ix, _ = store.create_index(index, make_current=True)
    ix.close()
    app = create_app({"NEWS_INDEX": str(index), "TESTING": True})
    c = app.test_client()
    for url in ("/", "/?q=harbour", "/api/search", "/api/search?q=harbour&person=X",
                "/api/stats", "/feed.atom", "/api/export.csv", "/api/export.jsonl",
                "/api/people?prefix=a"):
        resp = c.get(url)
        assert resp.status_code == 200, (url, resp.status_code)
    assert c.get("/api/search?q=harbour").get_json()["total"] == 0
    assert c.get("/api/stats").get_json()["articles"] == 0
    app.extensions["archive"].close()
