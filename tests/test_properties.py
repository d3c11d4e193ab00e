"""Property-based tests (hypothesis) over the search parameters and the query syntax."""

from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from web import create_app

SHAPE = {"query", "total", "page", "per_page", "pages", "took_ms", "hits", "facets", "undated",
         "suggestion", "timed_out"}
HIT = {"id", "headline", "headline_html", "snippet_html", "date", "people", "section", "url",
       "source_url", "score"}

TOKENS = ["ferry", "harbour", "Tobias", "Wren", "election", "lighth*", "a*", "*", "?", "AND",
          "OR", "NOT", "-", "+", '"', "(", ")", "[", "]", "{", "}", ":", "^2", "~", "\\",
          "headline:", "body:", "people:", "person:", "section:", "date:", "id:", "title:",
          "TO", "'", "\x00", "\u202e", "\u200b", "é", "😀", "<script>", "&amp;", "%", "/", "..."]

query_text = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=30).map(" ".join),
    st.lists(st.sampled_from(TOKENS), max_size=30).map("".join),
    st.text(max_size=600),
)
value = st.one_of(st.text(max_size=250), st.integers(-10**12, 10**12).map(str),
                  st.sampled_from(["", "0", "1", "2021", "2021-02", "2021-02-30", "1e3", "-1",
                                   "Tobias Wren", "Politics", "newest", "relevance", "oldest"]))
params = st.dictionaries(
    st.sampled_from(["q", "person", "section", "year", "from", "to", "sort", "page", "per_page",
                     "facet_size", "unknown"]),
    st.one_of(value.map(lambda v: [v]), st.lists(value, max_size=25)), max_size=8)


@pytest.fixture(scope="module")
def client(demo_index):
    app = create_app({"NEWS_INDEX": str(demo_index)})
    yield app.test_client()
    app.extensions["archive"].close()


def check_response(resp):
    assert resp.status_code in (200, 400), resp.status_code
    body = resp.get_json()
    if resp.status_code == 400:
        assert set(body) == {"error"}
        assert set(body["error"]) == {"code", "message", "param"} and body["error"]["message"]
        return body
    assert set(body) == SHAPE
    assert len(body["hits"]) <= body["per_page"] and body["total"] >= 0
    assert all(set(h) == HIT for h in body["hits"])
    assert set(body["facets"]) == {"people", "section", "year", "month"}
    return body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=params)
def test_any_parameters_answer_200_or_400_with_shape(client, params):
    resp = client.get("/api/search?" + urlencode(params, doseq=True))
    check_response(resp)
    page = client.get("/?" + urlencode(params, doseq=True), follow_redirects=True)
    assert page.status_code in (200, 400) and page.mimetype == "text/html"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(q=query_text)
def test_any_query_text_answers(client, q):
    resp = client.get("/api/search", query_string={"q": q})
    body = check_response(resp)
    if resp.status_code == 200:
        # the same request twice gives the same answer
        again = client.get("/api/search", query_string={"q": q}).get_json()
        assert [h["id"] for h in again["hits"]] == [h["id"] for h in body["hits"]]
        assert again["total"] == body["total"]


def check_error(resp):
    assert resp.status_code == 400, resp.status_code
    body = resp.get_json()
    assert set(body) == {"error"} and body["error"]["message"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=params, name=st.one_of(st.text(min_size=1, max_size=120),
                                     st.sampled_from(["Tobias Wren", "inès moreau-laurent"])),
       size=st.one_of(st.none(), value))
def test_feeds_exports_and_people_answer_or_refuse_cleanly(client, params, name, size):
    query = urlencode(params, doseq=True)
    search = client.get("/api/search?" + query)
    for path in ("/feed.atom", "/api/export.csv", "/api/export.jsonl"):
        resp = client.get(f"{path}?{query}")
        if search.status_code == 400:
            check_error(resp)
        else:
            assert resp.status_code == 200, (path, resp.status_code)
            total = search.get_json()["total"]
            if path != "/feed.atom":
                assert int(resp.headers["X-Total-Count"]) == total
                resp.get_data()  # streams to the end without an error
    lookup = client.get("/api/people", query_string={"prefix": name, **(
        {"limit": size} if size is not None else {})})
    assert lookup.status_code in (200, 400)
    if lookup.status_code == 400:
        check_error(lookup)
    with_size = dict(params, **({"size": [size]} if size is not None else {}))
    together = client.get("/api/people/" + quote(name, safe="") + "/cooccurrence?"
                          + urlencode(with_size, doseq=True))
    assert together.status_code in (200, 400, 404), together.status_code
    assert together.is_json
