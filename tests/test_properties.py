"""Property-based tests (hypothesis) over the search parameters and the query syntax."""

import datetime as dt
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from web import create_app
from web.openapi import spec

SHAPE = {"query", "total", "stories", "page", "per_page", "pages", "took_ms", "hits", "facets",
         "undated", "suggestion", "timed_out", "partial", "missing_shards"}
HIT = {"id", "headline", "headline_html", "snippet_html", "date", "people", "organizations",
       "places", "section", "url", "source_url", "score", "story"}

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


def value_is_valid(schema: dict, raw: str) -> bool:
    """Whether the OpenAPI document allows ``raw`` (a query-string value) for ``schema``,
    read from the document alone: the oracle the validator must agree with."""
    kind = schema.get("type")
    if kind == "integer":
        return (re.fullmatch(r"[0-9]+", raw) is not None
                and schema["minimum"] <= int(raw) <= schema["maximum"])
    if "enum" in schema:
        return raw in schema["enum"]
    if not schema.get("minLength", 0) <= len(raw) <= schema.get("maxLength", len(raw)):
        return False
    # ECMA-262's "$" is the end of the text; Python's also matches before a final newline
    if "pattern" in schema and not re.search(schema["pattern"].replace("$", r"\Z"), raw):
        return False
    if schema.get("format") == "date":
        try:
            dt.date.fromisoformat(raw)
        except ValueError:
            return False
    return not schema.get("anyOf") or any(value_is_valid({"type": "string", **sub}, raw)
                                          for sub in schema["anyOf"])


def invalid_params(operation: dict, params: dict[str, list[str]]) -> set[str]:
    """The documented parameters of ``operation`` whose values ``params`` gets wrong."""
    bad = set()
    for p in operation["parameters"]:
        if p["in"] != "query":
            continue
        values = params.get(p["name"], [])
        schema = p["schema"]
        if schema.get("type") == "array":
            ok = len(values) <= schema["maxItems"] and \
                all(value_is_valid(schema["items"], v) for v in values)
        else:
            ok = len(values) <= 1 and all(value_is_valid(schema, v) for v in values)
            ok = ok and (values or not p["required"])
        if not ok:
            bad.add(p["name"])
    return bad


@pytest.fixture(scope="module")
def document():
    return spec()


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
    assert len(body["hits"]) <= body["per_page"] and body["total"] >= body["stories"] >= 0
    assert all(set(h) == HIT for h in body["hits"])
    assert set(body["facets"]) == {"people", "organizations", "places", "section", "year",
                                   "month"}
    return body


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(params=params)
def test_any_parameters_answer_200_or_400_with_shape(client, document, params):
    resp = client.get("/api/search?" + urlencode(params, doseq=True))
    check_response(resp)
    # 200 exactly when the OpenAPI document allows every value; a 400 names a wrong one
    bad = invalid_params(document["paths"]["/api/search"]["get"], params)
    if bad:
        assert resp.status_code == 400 and resp.get_json()["error"]["param"] in bad, bad
    else:
        assert resp.status_code == 200, resp.get_json()
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
    lookup_params = {"prefix": [name], **({"limit": [size]} if size is not None else {})}
    lookup = client.get("/api/people?" + urlencode(lookup_params, doseq=True))
    if invalid_params(spec()["paths"]["/api/people"]["get"], lookup_params):
        check_error(lookup)
    else:
        assert lookup.status_code == 200 and lookup.get_json()["prefix"] == name.strip()
    with_size = dict(params, **({"size": [size]} if size is not None else {}))
    together = client.get("/api/people/" + quote(name, safe="") + "/cooccurrence?"
                          + urlencode(with_size, doseq=True))
    assert together.is_json
    if "\n" in name:  # no such route (a name never holds a line break): a JSON 404
        assert together.status_code == 404
    elif invalid_params(spec()["paths"]["/api/people/{name}/cooccurrence"]["get"], with_size):
        check_error(together)
    elif name in ("Tobias Wren", "inès moreau-laurent"):  # people of the demo archive
        assert together.status_code == 200, together.get_json()
    else:
        assert together.status_code in (200, 404), together.status_code
