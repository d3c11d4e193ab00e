"""The HTML pages through Flask's test client: same data as the API, safe, helpful."""

import re
import subprocess
import sys
import time
import urllib.request

import pytest

from web import create_app

from .conftest import ENGINES, ROOT, engine_config, free_port, run_ingest, write_jsonl


@pytest.fixture(scope="module", params=ENGINES)
def client(request, demo_index):
    """The pages on the demo archive, on each engine (the Xapian one a real local cluster)."""
    app = create_app({**engine_config(request, demo_index), "TESTING": True})
    yield app.test_client()
    app.extensions["archive"].close()


def page_ids(html: str) -> list[str]:
    return re.findall(r'<li class="hit" data-id="([^"]+)"', html)


def page_total(html: str) -> int:
    return int(re.search(r'data-total="(\d+)"', html).group(1))


@pytest.mark.parametrize("query", [
    "", "q=ferry", "q=ferry&person=Tobias+Wren", "person=Tobias+Wren&person=Caspian+Lowe&year=2023",
    "sort=oldest&page=2", "q=harbour&from=2020&to=2022-06", "section=Sport&section=Science",
])
def test_page_shows_the_same_results_as_the_api(client, query):
    page = client.get("/?" + query)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    link = re.fullmatch(r'<(/api/search\?[^>]*)>; rel="alternate"; type="application/json"',
                        page.headers["Link"])
    assert link, page.headers["Link"]
    api = client.get(link.group(1)).get_json()
    assert page_total(html) == api["total"]
    assert page_ids(html) == [h["id"] for h in api["hits"]]
    # the page lists the facet values the JSON has, with the same counts
    for v in api["facets"]["people"] + api["facets"]["section"] + api["facets"]["year"]:
        assert f'value="{v["value"]}"' in html


def test_security_headers(client):
    resp = client.get("/?q=ferry")
    csp = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"]
    html = resp.get_data(as_text=True)
    assert "<script>" not in html and " style=" not in html and "<style" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline scripts
    assert not re.search(r"(src|href)=\"(https?:)?//", html.replace("courier.example", ""))


def test_error_pages_in_the_site_look(client):
    for url, status in [("/?page=0", 400), ("/?year=abc", 400), ("/no/such/page", 404),
                        ("/articles/no-such-id", 404)]:
        resp = client.get(url)
        html = resp.get_data(as_text=True)
        assert resp.status_code == status, url
        assert resp.mimetype == "text/html"
        assert 'class="site"' in html and "Start a new search" in html
        assert "Traceback" not in html


def test_query_echo_is_escaped(client):
    html = client.get("/?q=%3Cscript%3Ealert(1)%3C/script%3E").get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html


def test_no_index_empty_state(tmp_path):
    client = create_app({"NEWS_INDEX": str(tmp_path / "none")}).test_client()
    resp = client.get("/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 503 and "The archive is empty" in html and "ingest.py" in html


def test_no_results_state(client):
    html = client.get("/?q=zzqxjv").get_data(as_text=True)
    assert "No articles found" in html and "Check the spelling" in html


def test_article_page(client):
    html = client.get("/articles/mqc-2019-001?q=ferry").get_data(as_text=True)
    assert "<mark>ferry</mark>" in html
    assert 'href="https://courier.example/2019/ferry-terminal"' in html
    assert "Related articles" in html
    # a name links to its page, with the search that led here (its way back)
    assert 'href="/people/Odile%20Brannock?q=ferry"' in html


def test_hostile_article_fields_are_escaped(tmp_path):
    index = tmp_path / "ix"
    src = write_jsonl(tmp_path / "h.jsonl", [{
        "id": "evil", "headline": "<script>alert(1)</script> Harbour",
        "body": "<img src=x onerror=alert(1)> harbour text", "people": ["<b>Bold</b> Person"],
        "section": "<i>x</i>", "byline": "<svg onload=alert(1)>", "url": "javascript:alert(1)"}])
    run_ingest("--index", index, src)
    app = create_app({"NEWS_INDEX": str(index)})
    client = app.test_client()
    for url in ("/?q=harbour", "/articles/evil?q=harbour", "/"):
        html = client.get(url).get_data(as_text=True)
        for raw in ("<script>alert", "<img src=x", "<b>Bold", "<i>x</i>", "<svg onload",
                    'href="javascript:'):
            assert raw not in html, (url, raw)
    app.extensions["archive"].close()


def test_run_command_serves_the_page(demo_index):
    """`python -m web` (the README's run command after ingest) prints an address that answers."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "web", "--port", str(port), "--index",
                             str(demo_index), "--workers", "1"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        address = None
        for _ in range(5):
            line = proc.stdout.readline()
            m = re.search(r"Serving on (http://\S+)", line)
            if m:
                address = m.group(1)
                break
        assert address == f"http://127.0.0.1:{port}/"
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(address + "?q=ferry", timeout=5) as resp:
                    html = resp.read().decode()
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        assert "<mark>Ferry</mark>" in html
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        proc.stdout.close()


def test_a_very_long_article_is_shown_in_parts(tmp_path):
    """A body over ARTICLE_PART_CHARS is shown a part per page, every word of it in exactly one
    part, with links between the parts that keep the search that led there (issue 13: any
    article's page stays fast to render)."""
    from search.service import ARTICLE_PART_CHARS

    words = [f"w{i}" for i in range(120_000)]  # 848,090 characters: 5 parts at least
    paragraphs = [" ".join(words[i:i + 150]) for i in range(0, len(words), 150)]
    index = tmp_path / "ix"
    write_jsonl(tmp_path / "a.jsonl", [{"id": "long", "headline": "A long report",
                                        "body": "\n\n".join(paragraphs), "people": []}])
    assert run_ingest("--index", index, tmp_path / "a.jsonl").returncode == 0
    app = create_app({"NEWS_INDEX": str(index)})
    client = app.test_client()
    seen, url, parts = [], "/articles/long?q=w7", 0
    while url:
        html = client.get(url).get_data(as_text=True)
        body = re.search(r'<div class="body">(.*?)</div>', html, re.S).group(1)
        text = re.sub(r"</p>", " ", re.sub(r"<(?!/p>)[^>]+>", "", body))
        assert len(text) <= ARTICLE_PART_CHARS + 2 * len(paragraphs)  # + the separators
        seen += text.split()
        parts += 1
        assert f"Part {parts} of 5" in html
        assert ("<mark>w7</mark>" in body) == (parts == 1)
        found = re.search(r'<a href="([^"]+)" rel="next">', html)
        url = found.group(1).replace("&amp;", "&") if found else None
        if url:
            assert "q=w7" in url and f"part={parts + 1}" in url
        assert parts <= 10
    assert parts == 5 and seen == words
    # a part past the last is the last; a part that is not a number is a 400
    last = client.get("/articles/long?part=99")
    assert last.status_code == 302 and last.headers["Location"].endswith("part=5")
    assert client.get("/articles/long?part=x").status_code == 400
    assert client.get("/articles/long?part=0").status_code == 400
    app.extensions["archive"].close()


def test_long_words_are_breakable_anywhere():
    from search.highlight import LONG_WORD, escape_long_words

    word = "\u0e01" * (LONG_WORD + 5)
    html = escape_long_words(f"a <b> {word} end{'x' * (LONG_WORD - 4)}")
    assert html == (f'a &lt;b&gt; <span class="long-word">{word}</span> '
                    f"end{'x' * (LONG_WORD - 4)}")


def test_page_groups_versions_of_a_story_with_a_toggle(client):
    html = client.get("/?q=rail+landslip").get_data(as_text=True)
    assert "3 articles, 1 story" in html
    assert html.count('class="hit"') == 1
    assert '3 versions</a>' in html and 'href="/?q=rail+landslip&amp;group=none"' in html
    every = client.get("/?q=rail+landslip&group=none").get_data(as_text=True)
    assert every.count('class="hit"') == 3 and "Show one hit per story" in every
    assert 'href="/?q=rail+landslip"' in every
    # a search without copies says nothing about stories
    assert "story" not in client.get("/?q=lighthouse").get_data(as_text=True).split(
        'class="layout"')[1].split("</h1>")[0]


def test_article_page_lists_the_other_versions(client):
    html = client.get("/articles/mqc-2022-030").get_data(as_text=True)
    assert "Other versions of this story" in html
    versions = html.split('id="versions"')[1].split("</aside>")[0]
    assert versions.index("wire-001") < versions.index("wire-008")  # the lead first
    assert "(this version)" in versions and "· lead" in versions
    assert "% shared with the lead" in versions
    assert "Other versions" not in client.get("/articles/mqc-2019-001").get_data(as_text=True)


def test_article_page_shows_what_a_version_changed(client):
    html = client.get("/articles/wire-008").get_data(as_text=True)
    changes = html.split('class="changes"')[1].split("</details>")[0]
    assert "<ins>UPDATE 1-Coastal</ins>" in changes
    assert "<ins>on Monday</ins>" in changes
    assert "What this version changed" not in client.get("/articles/wire-001").get_data(
        as_text=True)  # the lead
