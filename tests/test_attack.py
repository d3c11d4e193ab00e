"""Issue 13, first part: answers that must not be 500s, links that must not follow the Host
header, deliberate cache headers, a 405's Allow, and escaping in "did you mean"."""

from __future__ import annotations

import xml.dom.minidom

import feedparser
import pytest

from web import create_app


@pytest.fixture(scope="module")
def app(demo_index):
    app = create_app({"NEWS_INDEX": str(demo_index), "TESTING": True,
                      "PUBLIC_URL": "https://news.example.org/archive"})
    yield app
    app.extensions["archive"].close()


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.mark.parametrize("query", ["q=oil%01", "q=%EF%BF%BE", "q=harbour%EF%BF%BF",
                                   "q=%0B%0C+ferry", "q=ferry%ED%A0%80"])
def test_feed_never_carries_what_xml_cannot(client, query):
    resp = client.get("/feed.atom?" + query)
    assert resp.status_code == 200
    xml.dom.minidom.parseString(resp.data)  # well-formed
    assert not feedparser.parse(resp.data).bozo


def test_a_filter_value_with_control_characters_is_refused_not_fed(client):
    assert client.get("/feed.atom?person=%01Caspian").status_code == 400


def test_absolute_links_come_from_the_public_url_not_the_host_header(client):
    for url in ("/feed.atom?q=harbour", "/api/export.csv?q=harbour", "/api/export.jsonl?q=harbour"):
        resp = client.get(url, headers={"Host": "evil.example"})
        body = resp.get_data(as_text=True)
        assert resp.status_code == 200 and "evil.example" not in body, url
        assert "https://news.example.org/archive/articles/" in body, url


def test_cache_control_is_set_deliberately(client):
    assert client.get("/api/search?q=harbour").headers["Cache-Control"] == "public, max-age=60"
    assert client.get("/?q=harbour").headers["Cache-Control"] == "public, max-age=60"
    for url in ("/api/export.csv", "/api/export.jsonl"):
        assert client.get(url).headers["Cache-Control"] == "no-store"
    assert client.get("/api/search?page=0").headers["Cache-Control"] == "no-store"  # a 400
    assert client.get("/articles/nope").headers["Cache-Control"] == "no-store"  # a 404


@pytest.mark.parametrize("url", ["/api/search", "/", "/api/stats", "/feed.atom"])
def test_405_says_what_is_allowed(client, url):
    resp = client.post(url)
    assert resp.status_code == 405
    assert "GET" in {m.strip() for m in resp.headers["Allow"].split(",")}


def test_did_you_mean_is_escaped(client):
    """The suggestion's HTML is built by hand and shown unescaped: the query's own markup must
    come out as text."""
    body = client.get("/api/search", query_string={"q": "<i>brannok</i>"}).get_json()
    assert body["suggestion"] is not None
    html = body["suggestion"]["html"]
    assert "<mark>brannock</mark>" in html and "&lt;i&gt;" in html and "<i>" not in html
    page = client.get("/", query_string={"q": "<i>brannok</i>"}).get_data(as_text=True)
    suggestion = page[page.index('class="suggestion"'):][:400]
    assert "<i>" not in suggestion and "&lt;i&gt;" in suggestion


def _words(archive) -> list[str]:
    from search.engines.whoosh import store

    ix = store.open_index(archive.directory)
    with ix.searcher() as s:
        words = [t for t in s.reader().field_terms("body") if t.isalpha() and len(t) > 3]
    ix.close()
    return words[:: max(1, len(words) // 60)][:60]


def test_searches_in_threads_share_the_facet_arrays_safely(demo_index, monkeypatch):
    """The facet arrays read postings on demand through the reader of whichever pooled searcher
    built them: shared by threads, and closed when the pool overflowed or the archive closed
    (ReaderClosed, or garbled reads, until the index changed)."""
    import threading

    import search.engines.whoosh.engine as service
    from search.models import SearchRequest

    monkeypatch.setattr(service, "POOL_SIZE", 1)  # searchers closed as soon as two overlap
    expected_archive = service.WhooshEngine(demo_index)
    words = _words(expected_archive)
    expected = {w: expected_archive.search(SearchRequest(q=f"{w} OR quay*")).total for w in words}
    expected_archive.close()
    for _ in range(12):
        archive = service.WhooshEngine(demo_index)  # a cold cache each round
        got: dict[str, int] = {}
        errors: list[str] = []

        def search(chunk):
            for w in chunk:
                try:
                    got[w] = archive.search(SearchRequest(q=f"{w} OR quay*")).total
                except Exception as exc:  # noqa: BLE001 - collected and asserted below
                    errors.append(repr(exc))

        threads = [threading.Thread(target=search, args=(words[i::8],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors and got == expected
        archive.close()
        # after close() the archive still answers (it reopens), with postings not yet read
        assert archive.search(SearchRequest(q="lighthouse")).total >= 1
        archive.close()


def test_the_prefixes_of_a_query_share_one_expansion_budget(demo_index, monkeypatch):
    """40-80 two-letter prefixes, each under the per-prefix cap, held a worker for seconds:
    the whole query has one budget; prefixes past it are left out, each with a note."""
    import search.query as query
    from search.engines.whoosh import store
    from search.models import SearchRequest
    from search.service import Archive

    ix = store.open_index(demo_index)
    with ix.searcher() as s:
        reader = s.reader()
        prefixes = [p for p in ("ha", "fe", "co", "ma", "qu", "st", "re", "pr")
                    if any(True for _ in reader.expand_prefix("body", p))]

        def words(p):
            return sum(1 for f in ("headline", "body") for _ in reader.expand_prefix(f, p))

        sizes = {p: words(p) for p in prefixes}
    ix.close()
    budget = sizes[prefixes[0]] + sizes[prefixes[1]]  # room for exactly the first two
    monkeypatch.setattr(query, "MAX_QUERY_EXPANSIONS", budget)
    archive = Archive(demo_index)
    res = archive.search(SearchRequest(q=" OR ".join(p + "*" for p in prefixes)))
    left_out = [n for n in res.notes if "together match more than" in n]
    assert len(left_out) == len(prefixes) - 2
    assert all(f"'{p}*'" in " ".join(left_out) for p in prefixes[2:])
    kept = archive.search(SearchRequest(q=f"{prefixes[0]}* OR {prefixes[1]}*")).total
    assert res.total == kept
    archive.close()


def test_exports_at_once_are_bounded_and_released(client):
    """Two whole-archive exports at once delayed searches by seconds: a worker streams at most
    two; the next is told to come back (503, Retry-After), and a finished export frees its
    place."""
    from web.more import EXPORTS_AT_ONCE

    held = [client.get("/api/export.csv") for _ in range(EXPORTS_AT_ONCE)]  # not read yet
    assert all(r.status_code == 200 for r in held)
    refused = client.get("/api/export.jsonl")
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "5"
    assert refused.get_json()["error"]["code"] == "busy"
    assert client.get("/api/search?q=harbour").status_code == 200  # searches go on
    for r in held:
        r.get_data()
        r.close()
    again = client.get("/api/export.jsonl")
    assert again.status_code == 200 and again.get_data()
    again.close()
