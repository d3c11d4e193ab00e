"""Trends over time (``GET /api/trends``, ``search.trends``): each point's count is the search's
total for its bucket, every bucket of the range is there, undated articles are counted apart."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest

from web import create_app

from .conftest import ENGINES, engine_config
from .plain import all_articles


@pytest.fixture(scope="module", params=ENGINES)
def client(request, demo_index):
    """The app on the demo archive, on each engine (the Xapian one a real local cluster)."""
    app = create_app({**engine_config(request, demo_index), "TESTING": True})
    yield app.test_client()
    app.extensions["archive"].close()


def search_total(client, pairs) -> int:
    return client.get("/api/search?" + urlencode(pairs)).get_json()["total"]


def check_points_against_search(client, pairs, interval, every=1):
    """Each series' points: count == /api/search total for the bucket, total == the filters'
    total for it, share = count / total; consecutive buckets; undated counted apart."""
    body = client.get("/api/trends?" + urlencode(pairs + [("interval", interval)])).get_json()
    filters = [(k, v) for k, v in pairs if k != "q"]
    for series in body["series"]:
        points = series["points"]
        query = [("q", series["q"])] if series["q"] else []
        for p in points[::every]:
            bucket = [("from", p["from"]), ("to", p["to"])]
            assert p["count"] == search_total(client, filters + query + bucket), (series["q"], p)
            assert p["total"] == search_total(client, filters + bucket), p
            assert 0 <= p["share"] <= 1
            assert p["share"] == pytest.approx(p["count"] / p["total"] if p["total"] else 0)
        for a, b in zip(points, points[1:]):  # no gap, no overlap
            assert dt.date.fromisoformat(b["from"]) == \
                dt.date.fromisoformat(a["to"]) + dt.timedelta(days=1)
        dated = sum(p["count"] for p in points)
        assert dated + series["undated"] == search_total(client, filters + query)
    return body


@pytest.mark.parametrize("interval", ["year", "month", "week"])
def test_points_equal_the_search_totals_of_their_buckets(client, interval):
    body = check_points_against_search(
        client, [("q", "ferry"), ("q", "election OR vote"), ("q", "")], interval,
        every=1 if interval != "week" else 7)
    assert [s["q"] for s in body["series"]] == ["ferry", "election OR vote", ""]
    everything = body["series"][2]["points"]
    assert all(p["count"] == p["total"] for p in everything)  # no query: the filters alone


def test_filters_narrow_counts_and_totals_alike(client, demo_index):
    articles = all_articles(demo_index)
    body = check_points_against_search(
        client, [("q", "harbour"), ("place", "Marlow Quay"), ("section", "Politics"),
                 ("section", "Transport")], "year")
    expected = {}
    for a in articles:
        if "Marlow Quay" in a.places and a.section in ("Politics", "Transport") and a.date:
            expected[a.date.year] = expected.get(a.date.year, 0) + 1
    totals = {int(p["date"]): p["total"] for p in body["series"][0]["points"]}
    assert {y: n for y, n in totals.items() if n} == expected  # a plain count of the articles
    assert body["filters"]["place"] == ["Marlow Quay"]


def test_a_range_is_zero_filled_and_clipped_to_from_and_to(client, demo_index):
    body = client.get("/api/trends?interval=month&from=2018-11-15&to=2019-02").get_json()
    points = body["series"][0]["points"]
    assert [p["date"] for p in points] == ["2018-11", "2018-12", "2019-01", "2019-02"]
    assert points[0]["from"] == "2018-11-15" and points[-1]["to"] == "2019-02-28"
    dated = [a.date for a in all_articles(demo_index) if a.date]
    assert min(dated) > dt.date(2018, 11, 15)  # the demo starts later: zeros before it
    assert points[0]["count"] == points[0]["total"] == 0
    # without from/to, the range is the first and last dated article's
    points = client.get("/api/trends?interval=year").get_json()["series"][0]["points"]
    assert points[0]["date"] == str(min(dated).year) and points[-1]["date"] == str(max(dated).year)
    assert [int(p["date"]) for p in points] == list(range(min(dated).year, max(dated).year + 1))


def test_undated_articles_are_counted_apart(client, demo_index):
    undated = sum(1 for a in all_articles(demo_index) if a.date is None)
    body = client.get("/api/trends").get_json()
    assert body["undated"] == body["series"][0]["undated"] == undated > 0


@pytest.mark.parametrize("query,param", [
    ([("q", f"w{i}") for i in range(9)], "q"),
    ([("interval", "hour")], "interval"),
    ([("from", "2024-02-30")], "from"),
    ([("q", "x" * 501)], "q"),
])
def test_bad_trend_requests_are_400s_naming_the_parameter(client, query, param):
    resp = client.get("/api/trends?" + urlencode(query))
    assert resp.status_code == 400
    assert resp.get_json()["error"]["param"] == param


def test_a_range_of_too_many_buckets_is_counted_by_a_longer_interval(client):
    body = client.get("/api/trends?interval=day&from=1950&q=ferry").get_json()
    assert body["interval"] == "week" and "counted by week" in body["notes"][0]
    assert len(body["series"][0]["points"]) <= 5_000
    assert body["series"][0]["points"][0]["from"] == "1950-01-01"
    assert client.get("/api/trends?interval=day&from=1000").get_json()["interval"] == "year"
    years = client.get("/api/trends?interval=day&from=1000&to=2999").get_json()
    assert years["interval"] == "year" and len(years["series"][0]["points"]) == 2000
    short = client.get("/api/trends?interval=day&from=2022-03-01&to=2022-03-31").get_json()
    assert short["interval"] == "day" and short["notes"] == []


def test_trends_on_reuters_equal_the_search_totals(reuters_ingest):
    _, index, _ = reuters_ingest
    app = create_app({"NEWS_INDEX": str(index), "TESTING": True})
    reuters = app.test_client()
    body = check_points_against_search(reuters, [("q", "oil"), ("q", "coffee")], "week")
    assert sum(p["count"] for p in body["series"][0]["points"]) > 100
    check_points_against_search(reuters, [("q", "opec"), ("organization", "OPEC")], "month")
    app.extensions["archive"].close()
