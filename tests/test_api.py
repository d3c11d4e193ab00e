"""The JSON API through Flask's test client, on the demo index."""

import datetime as dt
import json
import string

import pytest

from web import create_app
from web.openapi import spec

from .conftest import ENGINES, engine_config, run_ingest, write_jsonl
from .plain import all_articles, facet_counts
from .test_search import HOSTILE_QUERIES


@pytest.fixture(scope="module", params=ENGINES)
def client(request, demo_index):
    """The API on the demo archive, on each engine (the Xapian one a real local cluster)."""
    app = create_app({**engine_config(request, demo_index), "TESTING": True})
    yield app.test_client()
    app.extensions["archive"].close()


def assert_error_body(resp, status):
    assert resp.status_code == status, resp.data[:300]
    body = resp.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "param"}
    assert body["error"]["message"]
    return body["error"]


def test_search_shape(client):
    resp = client.get("/api/search?q=ferry&per_page=3")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"query", "total", "stories", "page", "per_page", "pages", "took_ms",
                         "hits", "facets", "undated", "suggestion", "timed_out", "partial",
                         "missing_shards"}
    assert body["partial"] is False and body["missing_shards"] == []
    assert body["query"]["q"] == "ferry" and body["query"]["sort"] == "relevance"
    assert body["per_page"] == 3 and len(body["hits"]) == 3
    assert body["pages"] == -(-body["stories"] // 3)
    hit = body["hits"][0]
    assert set(hit) == {"id", "headline", "headline_html", "snippet_html", "date", "people",
                        "organizations", "places", "section", "url", "source_url", "score",
                        "story"}
    assert set(hit["story"]) == {"id", "versions"} and hit["story"]["versions"] >= 1
    assert hit["url"] == f"/api/articles/{hit['id']}".replace("/api", "")
    assert set(body["facets"]) == {"people", "organizations", "places", "section", "year",
                                   "month"}
    assert all(set(v) == {"value", "count", "selected"} for v in body["facets"]["people"])


def test_repeatable_filters_and_dates(client, demo_index):
    body = client.get("/api/search?person=Tobias+Wren&person=Caspian+Lowe&year=2023"
                      "&year=2022&from=2022-06&to=2023").get_json()
    assert body["query"]["person"] == ["Tobias Wren", "Caspian Lowe"]
    assert body["query"]["from"] == "2022-06-01" and body["query"]["to"] == "2023-12-31"
    total = facet_counts(all_articles(demo_index), person=("Tobias Wren", "Caspian Lowe"),
                         year=(2022, 2023), date_from=dt.date(2022, 6, 1),
                         date_to=dt.date(2023, 12, 31))[0]
    assert body["total"] == total >= 2
    for h in body["hits"]:
        assert {"Tobias Wren", "Caspian Lowe"} & set(h["people"])
        assert h["date"][:4] in ("2022", "2023") and h["date"] >= "2022-06-01"


def test_dates_are_iso_strings(client):
    body = client.get("/api/search?per_page=100").get_json()
    dates = [h["date"] for h in body["hits"]]
    assert all(d is None or (len(d) == 10 and d[4] == "-") for d in dates)
    assert None in dates


def test_article_endpoint(client):
    body = client.get("/api/articles/mqc-2022-001").get_json()
    assert body["headline"] == "Ferry terminal opens at last"
    assert body["date"] == "2022-04-11" and body["section"] == "Politics"
    assert body["source_url"] == "https://courier.example/2022/ferry-terminal-opens"
    assert 0 < len(body["related"]) <= 5
    assert set(body["related"][0]) >= {"id", "headline", "date"}
    err = assert_error_body(client.get("/api/articles/does-not-exist"), 404)
    assert err["code"] == "not_found"


def test_article_ids_with_slashes(tmp_path):
    index = tmp_path / "ix"
    src = write_jsonl(tmp_path / "a.jsonl", [{"url": "https://e.example/a/b?c=1", "headline": "H",
                                              "people": []}])
    run_ingest("--index", index, src)
    app = create_app({"NEWS_INDEX": str(index)})
    client = app.test_client()
    hit = client.get("/api/search").get_json()["hits"][0]
    assert hit["id"] == "https://e.example/a/b?c=1"
    assert client.get("/api" + hit["url"]).get_json()["id"] == hit["id"]
    app.extensions["archive"].close()


def test_stats(client):
    body = client.get("/api/stats").get_json()
    assert body["articles"] >= 40 and body["undated"] >= 3
    assert body["first_date"] < body["last_date"] and body["people"] > 10
    assert body["last_ingest"]


@pytest.mark.parametrize("query, param", [
    ("page=0", "page"), ("page=-1", "page"), ("per_page=1000", "per_page"), ("year=abc", "year"),
    ("from=2020-13", "from"), ("to=2020-02-30", "to"), ("sort=best", "sort"),
    ("facet_size=0", "facet_size"), ("q=" + "x" * 600, "q"), ("page=1&page=2", "page"),
    ("person=" + "p" * 300, "person"), ("to=", "to"), ("page=", "page"), ("year=", "year"),
    ("sort=", "sort"), ("sort=NEWEST", "sort"), ("page=%205", "page"), ("from=0000", "from"),
    ("person=a%C2%85b", "person"), ("year=" + "9" * 5000, "year"), ("page=0" + "0" * 5000, "page"),
])
def test_invalid_parameters_are_400_with_error_body(client, query, param):
    err = assert_error_body(client.get("/api/search?" + query), 400)
    assert err["param"] == param and err["code"] == "invalid_parameter"


def test_to_before_from_finds_nothing_and_says_why(client):
    body = client.get("/api/search?from=2022&to=2021").get_json()
    assert body["total"] == 0 and body["hits"] == []
    assert any("'to' (2021-12-31) is before 'from' (2022-01-01)" in n
               for n in body["query"]["notes"])


def test_numbers_with_leading_zeros_and_empty_filter_values(client):
    body = client.get("/api/search?page=0002&per_page=005&person=&section=%20").get_json()
    assert (body["page"], body["per_page"]) == (2, 5)
    assert body["query"]["person"] == [] and body["query"]["section"] == []


@pytest.mark.parametrize("q", HOSTILE_QUERIES + ["%00", "%ff%fe", "q=%", "😀" * 50])
def test_hostile_queries_answer_200(client, q):
    """Any q within its length limit is a query: whatever its syntax, it is answered (what
    could not be read is searched as words, with a note), never refused."""
    assert len(q) <= 500
    resp = client.get("/api/search", query_string={"q": q})
    assert resp.status_code == 200, resp.get_data()[:300]
    body = resp.get_json()
    assert {"total", "hits", "facets"} <= set(body) and body["query"]["q"] == q


def test_odd_raw_query_strings_never_5xx(client):
    for raw in ["q=%", "q=%zz", "person=%00", "year=%ff", "&&&", "q", "=x", "page=1e3",
                "per_page=%20", "from=%00%00", "year=2020&year=2020&year=9999"]:
        resp = client.get("/api/search?" + raw)
        assert resp.status_code in (200, 400), raw
        if resp.status_code == 400:
            assert_error_body(resp, 400)


def test_unknown_api_route_and_method_are_json(client):
    assert_error_body(client.get("/api/nope"), 404)
    assert_error_body(client.post("/api/search"), 405)


def test_openapi_matches_the_endpoints(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc == json.loads(json.dumps(spec()))
    app = client.application
    api_rules = {r.rule.replace("<path:article_id>", "{id}").replace("<path:name>", "{name}")
                 .replace("<path:story_id>", "{id}")
                 for r in app.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert set(doc["paths"]) == api_rules
    from search.params import PARAMS
    documented = [p["name"] for p in doc["paths"]["/api/search"]["get"]["parameters"]]
    assert documented == list(PARAMS)


def test_new_articles_appear_without_restart(tmp_path):
    index = tmp_path / "ix"
    first = write_jsonl(tmp_path / "a.jsonl", [{"id": "1", "headline": "Quokka sighting",
                                                "people": []}])
    run_ingest("--index", index, first)
    app = create_app({"NEWS_INDEX": str(index)})
    client = app.test_client()
    assert client.get("/api/search?q=quokka").get_json()["total"] == 1
    second = write_jsonl(tmp_path / "b.jsonl", [{"id": "2", "headline": "Second quokka",
                                                 "people": []}])
    run_ingest("--index", index, second)
    assert client.get("/api/search?q=quokka").get_json()["total"] == 2
    run_ingest("--index", index, "--rebuild", second)  # a rebuild swaps the index
    assert client.get("/api/search?q=quokka").get_json()["total"] == 1
    app.extensions["archive"].close()


def test_index_location_config_then_env(tmp_path, monkeypatch):
    monkeypatch.setenv("NEWS_INDEX", str(tmp_path / "from-env"))
    assert create_app().config["NEWS_INDEX"] == str(tmp_path / "from-env")
    assert create_app({"NEWS_INDEX": "cfg"}).config["NEWS_INDEX"] == "cfg"
    monkeypatch.delenv("NEWS_INDEX")
    assert create_app().config["NEWS_INDEX"] == "index"


def test_no_index_yet_is_a_clear_503(tmp_path):
    client = create_app({"NEWS_INDEX": str(tmp_path / "empty")}).test_client()
    err = assert_error_body(client.get("/api/search"), 503)
    assert err["code"] == "no_index" and "ingest" in err["message"]


def test_every_printable_character_alone(client):
    for ch in string.printable:
        resp = client.get("/api/search", query_string={"q": ch})
        assert resp.status_code == 200, repr(ch)


# -- stories (issue 15) ----------------------------------------------------------------------

RAIL = ("wire-001", "wire-008", "mqc-2022-030")  # the demo's one story of three versions


def test_search_shows_one_hit_per_story_and_counts_articles_and_stories(client):
    grouped = client.get("/api/search?q=rail+landslip").get_json()
    every = client.get("/api/search?q=rail+landslip&group=none").get_json()
    assert grouped["query"]["group"] == "story" and every["query"]["group"] == "none"
    assert grouped["total"] == every["total"] == 3 and grouped["stories"] == every["stories"] == 1
    assert [h["id"] for h in grouped["hits"]] == [every["hits"][0]["id"]]  # the best-ranked
    assert sorted(h["id"] for h in every["hits"]) == sorted(RAIL)
    assert all(h["story"] == {"id": "wire-001", "versions": 3} for h in every["hits"])
    # facet counts count articles, grouped or not, and equal the plain counts
    assert grouped["facets"] == every["facets"]
    section = {v["value"]: v["count"] for v in grouped["facets"]["section"]}
    assert section == {"Transport": 3}


def test_grouped_paging_walks_stories(client):
    every = client.get("/api/search?per_page=100&group=none").get_json()
    grouped = client.get("/api/search?per_page=100").get_json()
    assert every["total"] == grouped["total"] and grouped["stories"] == every["total"] - 2
    assert len(grouped["hits"]) == grouped["stories"] and grouped["pages"] == 1
    ids = [h["id"] for h in grouped["hits"]]
    assert len([i for i in ids if i in RAIL]) == 1
    # newest first, one version of each story: the newest of the rail story's three
    assert "mqc-2022-030" in ids
    paged = []
    for page in range(1, 20):
        body = client.get(f"/api/search?per_page=7&page={page}").get_json()
        paged += [h["id"] for h in body["hits"]]
        assert body["pages"] == -(-grouped["stories"] // 7)
    assert paged == ids


def test_article_lists_its_story(client):
    body = client.get("/api/articles/wire-008").get_json()
    story = body["story"]
    assert story["id"] == story["lead"] == "wire-001"
    assert [v["id"] for v in story["versions"]] == ["wire-001", "wire-008", "mqc-2022-030"]
    lead, update, copy = story["versions"]
    assert lead["similarity"] == lead["jaccard"] == 1.0
    assert 0.7 <= update["similarity"] <= 1.0 and 0.3 <= update["jaccard"] < 1.0
    assert copy["similarity"] == 1.0  # every run of words of the wire's take is in the copy
    assert copy["source"] == "The Marlow Quay Courier, from the wire"
    assert copy["url"] == "/articles/mqc-2022-030"
    # a story of one lists the article alone; related articles leave out its own versions
    alone = client.get("/api/articles/mqc-2019-001").get_json()["story"]
    assert alone == {"id": "mqc-2019-001", "lead": "mqc-2019-001",
                     "versions": [{**alone["versions"][0]}]}
    assert alone["versions"][0]["similarity"] == 1.0
    related = {r["id"] for r in client.get("/api/articles/wire-001").get_json()["related"]}
    assert not related & set(RAIL)


def test_group_is_validated(client):
    check = client.get("/api/search?group=stories")
    assert check.status_code == 400 and check.get_json()["error"]["param"] == "group"


def test_story_endpoint_shows_what_each_version_changed(client):
    body = client.get("/api/stories/wire-001").get_json()
    assert body["id"] == body["lead"] == "wire-001"
    versions = {v["id"]: v for v in body["versions"]}
    assert list(versions) == ["wire-001", "wire-008", "mqc-2022-030"]
    assert versions["wire-001"]["changes"] == {
        "headline": {"changed": False, "diff": [{"op": "equal", "text": versions["wire-001"]["headline"]}]},
        "added": [], "removed": [], "edited": [], "unchanged": 1}
    update = versions["wire-008"]["changes"]
    assert update["headline"]["changed"]
    assert {"op": "insert", "text": "UPDATE 1-Coastal"} in update["headline"]["diff"]
    (edit,) = update["edited"]  # one paragraph, edited: "on Monday" and a note added
    inserted = " ".join(p["text"] for p in edit["diff"] if p["op"] == "insert")
    assert "on Monday" in inserted and "(Updates with the day of reopening.)" in inserted
    assert not [p for p in edit["diff"] if p["op"] == "delete"]
    # the pieces put back together give each side
    assert " ".join(p["text"] for p in edit["diff"] if p["op"] != "delete") == edit["version"]
    assert " ".join(p["text"] for p in edit["diff"] if p["op"] != "insert") == edit["lead"]
    copy = versions["mqc-2022-030"]["changes"]
    assert copy["headline"]["changed"] and len(copy["edited"]) == 1
    assert client.get("/api/stories/mqc-2019-001").get_json()["versions"][0]["changes"][
        "unchanged"] >= 1
    missing = client.get("/api/stories/wire-008")  # a version, not a story's id
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_both_engines_keep_the_same_stories(demo_index, xapian_demo):
    """The demo archive's stories, every article's story id and similarity to its lead, are
    the same on the Whoosh engine and on the cluster (written through its servers, three
    shards: the versions of a story on different shards)."""
    from search.engines.xapian.engine import XapianEngine
    from search.engines.xapian.writer import shard_of
    from search.models import SearchRequest
    from search.service import Archive

    whoosh, cluster = Archive(demo_index), XapianEngine(xapian_demo.value)
    export = whoosh.export(SearchRequest(q=""), 1000)
    ids = sorted(a.id for a, _ in export)
    export.close()
    assert cluster.features.stories and len(ids) == cluster.count()
    seen = {}
    for article_id in ids:
        story = whoosh.story(article_id)
        assert cluster.story(article_id) == story
        seen.setdefault(story.id, set()).add(shard_of(article_id, 3))
    assert any(len(versions) > 1 for versions in seen.values())  # a story across shards
    whoosh.close()
    cluster.close()


@pytest.mark.parametrize("typed, meant", [("brannok", "brannock"), ("lighthuose", "lighthouse"),
                                          ("harbur council", "harbour council")])
def test_did_you_mean_on_each_engine(client, typed, meant):
    """A misspelt word gets the archive's own spelling, when that finds more; a word the
    archive has gets none."""
    body = client.get(f"/api/search?q={typed}").get_json()
    assert body["suggestion"] is not None, body["query"]
    assert body["suggestion"]["q"] == meant
    found = client.get(f"/api/search?q={meant}").get_json()
    assert found["total"] > body["total"] and found["suggestion"] is None
