"""Keyword in context (``GET /api/kwic``, ``/api/kwic.csv``, ``/kwic``; ``search.kwic``): the
lines equal the occurrences counted by hand in a small archive, hold only matched forms, come
in the search's order or sorted by the word before or after, and stop at the cap."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlencode

import pytest

from search.analysis import fold, snowball_stem
from web import create_app

from . import research_archive
from .conftest import ENGINES
from .plain import all_articles


@pytest.fixture(scope="module", params=ENGINES)
def small(request, tmp_path_factory):
    """The hand-counted archive, on each engine (the Xapian one loaded into a real local
    cluster of its own)."""
    directory = tmp_path_factory.mktemp("kwic") / "ix"
    research_archive.build(directory)
    articles = {a.id: a for a in all_articles(directory)}
    config = {"NEWS_INDEX": str(directory)}
    cluster = None
    if request.param == "xapian":
        from search.engines.xapian.writer import XapianIndexer

        from .clusters import Cluster

        cluster = Cluster(tmp_path_factory.mktemp("kwic-cluster"), shards=3, replicas=0)
        with XapianIndexer(cluster.value) as ix:
            ix.upsert(list(articles.values()))
        config = {"NEWS_ENGINE": "xapian", "NEWS_SHARDS": cluster.value}
    app = create_app({**config, "TESTING": True})
    yield app.test_client(), articles
    app.extensions["archive"].close()
    if cluster is not None:
        cluster.stop()


def kwic(client, **params):
    resp = client.get("/api/kwic?" + urlencode(params))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.mark.parametrize("q,count", sorted(research_archive.HAND_KWIC.items()))
def test_lines_equal_the_occurrences_counted_by_hand(small, q, count):
    client, articles = small
    body = kwic(client, q=q)
    assert len(body["lines"]) == count and not body["more"]
    for line in body["lines"]:
        article = articles[line["id"]]
        text = flat(getattr(article, line["field"]))
        # the line is the text around the match, at most 60 characters each side
        assert line["left"] + line["match"] + line["right"] in text
        assert len(line["left"]) <= 60 and len(line["right"]) <= 60
        assert line["headline"] == article.headline
        assert line["date"] == (article.date.isoformat() if article.date else None)


def test_lines_hold_only_matched_forms(small):
    client, _ = small
    ferry = kwic(client, q="ferry")["lines"]
    assert {snowball_stem(fold(line["match"].lower())) for line in ferry} == {"ferri"}
    running = kwic(client, q="running")["lines"]
    assert {line["match"].lower() for line in running} == {"running", "runs", "run"}
    exact = kwic(client, q="exact:running")["lines"]
    assert {line["match"].lower() for line in exact} == {"running"}
    phrase = kwic(client, q='"ferry contract"')["lines"]
    assert [line["match"] for line in phrase] == ["ferry contract"] * 2
    # a word left out makes no line, and no line comes from an article holding it
    without = kwic(client, q="harbour -storm")["lines"]
    assert {line["match"].lower() for line in without} == {"harbour"}
    assert {line["id"] for line in without} == {"r01", "r02"}
    # proximity: the words that are near each other
    near = kwic(client, q="harbour NEAR/1 ferry")["lines"]
    assert {line["id"] for line in near} == {"r01", "r06"}
    assert {line["match"].lower() for line in near} == {"harbour", "ferry"}


def test_lines_count_as_a_regular_expression_over_the_stored_text(small):
    """A second count, by a pattern rather than by hand: "ferry" and "ferries"."""
    client, articles = small
    pattern = re.compile(r"\bferr(?:y|ies)\b", re.I)
    expected = sum(len(pattern.findall(a.headline)) + len(pattern.findall(a.body))
                   for a in articles.values())
    assert len(kwic(client, q="ferry")["lines"]) == expected == 10


def test_order_is_the_search_order_and_each_article_in_text_order(small):
    client, _ = small
    newest = kwic(client, q="ferry", sort="newest")["lines"]
    ids = list(dict.fromkeys(line["id"] for line in newest))
    assert ids == ["r06", "r04", "r02", "r01"]
    search = client.get("/api/search?" + urlencode(
        {"q": "ferry", "sort": "newest", "group": "none"})).get_json()
    assert [h["id"] for h in search["hits"]] == ids
    first = [line for line in newest if line["id"] == "r02"]
    assert [line["field"] for line in first] == ["headline", "body", "body"]


@pytest.mark.parametrize("side", ["left", "right"])
def test_sort_by_the_word_before_or_after(small, side):
    client, _ = small
    lines = kwic(client, q="ferry", sort=side)["lines"]
    assert len(lines) == 10

    def key(line):
        words = re.findall(r"\w+", line[side])
        return [w.lower() for w in (reversed(words) if side == "left" else words)]

    assert [key(line) for line in lines] == sorted(key(line) for line in lines)
    assert {line["id"] for line in lines} == {"r01", "r02", "r04", "r06"}


def test_the_cap_and_more(small):
    client, _ = small
    body = kwic(client, q="ferry", limit=4)
    assert len(body["lines"]) == 4 and body["more"] is True and body["total"] == 4
    assert kwic(client, q="ferry", limit=10)["more"] is False


def test_filters_narrow_the_lines(small):
    client, _ = small
    body = kwic(client, q="ferry", section="Business")
    assert {line["id"] for line in body["lines"]} == {"r06"} and len(body["lines"]) == 3
    assert {line["id"] for line in kwic(client, q="ferry", **{"from": "2022"})["lines"]} \
        == {"r04", "r06"}


def test_a_query_of_names_only_says_it_has_no_words(small):
    client, _ = small
    body = kwic(client, q='people:"Ada Quill"')
    assert body["total"] == 2 and body["lines"] == [] and body["notes"]


def test_csv_has_a_row_per_line(small):
    client, _ = small
    resp = client.get("/api/kwic.csv?q=ferry")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    assert rows[0] == ["id", "date", "headline", "field", "left", "match", "right"]
    assert len(rows) == 11
    assert [r[5] for r in rows[1:]] == [line["match"] for line in kwic(client, q="ferry")["lines"]]


@pytest.mark.parametrize("params,param", [({"q": "ferry", "sort": "middle"}, "sort"),
                                          ({"q": "ferry", "limit": "0"}, "limit"),
                                          ({"q": "ferry", "limit": "1001"}, "limit"),
                                          ({"q": "ferry", "year": "99"}, "year")])
def test_bad_parameters_are_400s_naming_them(small, params, param):
    client, _ = small
    for path in ("/api/kwic", "/api/kwic.csv"):
        resp = client.get(f"{path}?{urlencode(params)}")
        assert resp.status_code == 400 and resp.get_json()["error"]["param"] == param
    assert client.get(f"/kwic?{urlencode(params)}").status_code == 400


def test_the_page_is_an_aligned_table_linking_to_articles(small):
    client, _ = small
    html = client.get("/kwic?q=ferry&sort=right").get_data(as_text=True)
    rows = re.findall(r"<tr><td class=\"left\">", html)
    assert len(rows) == 10
    assert '/articles/r02?q=ferry' in html
    assert 'href="/api/kwic.csv?q=ferry&amp;sort=right"' in html


def test_kwic_on_reuters_marks_only_the_word(reuters_ingest):
    _, index, _ = reuters_ingest
    app = create_app({"NEWS_INDEX": str(index), "TESTING": True})
    client = app.test_client()
    try:
        body = kwic(client, q="crude", organization="OPEC", limit=100)
        assert len(body["lines"]) == 100 and body["more"]
        assert {snowball_stem(line["match"].lower()) for line in body["lines"]} == {"crude"}
        # every article read holds as many lines as its text has the word (the last one read
        # may be cut by the cap)
        by_id: dict[str, int] = {}
        for line in body["lines"]:
            by_id[line["id"]] = by_id.get(line["id"], 0) + 1
        articles = {a.id: a for a in all_articles(index) if a.id in by_id}
        last = body["lines"][-1]["id"]
        for art_id, n in by_id.items():
            a = articles[art_id]
            found = len(re.findall(r"(?<!\w)crudes?(?!\w)", a.headline + " \n " + a.body, re.I))
            assert n == found or (art_id == last and n < found), art_id
    finally:
        app.extensions["archive"].close()
