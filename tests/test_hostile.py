"""Hostile articles in every ingest format: each is rejected with a reason or stored safely."""

import re
import unicodedata

import pytest

from web import create_app

from .conftest import run_ingest, summary_of
from .hostile import RAW_MARKERS, write_hostile_files
from .test_ingest_cli import stored_articles


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile-src")
    expected = write_hostile_files(folder)
    index = tmp_path_factory.mktemp("hostile-ix") / "ix"
    result = run_ingest("--index", index, "--json", "--format", "text", folder / "texts")
    assert result.returncode == 0, result.stderr
    result = run_ingest("--index", index, "--json", folder)
    return folder, index, expected, result


def test_rejected_with_file_line_and_reason(hostile):
    folder, _, expected, result = hostile
    assert result.returncode == 1
    for name, location, reason in expected["rejected"]:
        pattern = re.escape(f"{folder / name}:{location}: ") + ".*" + re.escape(reason)
        assert re.search(pattern, result.stderr), (name, location, reason, result.stderr[-3000:])
    assert summary_of(result)["rejected"] == len(expected["rejected"])
    assert "Traceback" not in result.stderr


def test_the_rest_is_stored(hostile):
    _, index, expected, _ = hostile
    arts = stored_articles(index)
    assert set(expected["stored"]) <= set(arts)


def test_stored_text_has_no_control_characters(hostile):
    _, index, _, _ = hostile
    for art in stored_articles(index).values():
        for value in (art.headline, art.body, art.section, art.byline, art.source, *art.people):
            bad = [c for c in value if unicodedata.category(c) == "Cc" and c not in "\n\t"]
            assert not bad, (art.id, value[:80])


def test_encodings_are_read_with_a_warning(hostile):
    _, index, _, result = hostile
    arts = stored_articles(index)
    assert arts["h-csv-latin"].headline == "Café opens"
    assert "not UTF-8; read as Windows-1252" in result.stderr


def test_pages_show_hostile_articles_as_text(hostile):
    _, index, expected, _ = hostile
    app = create_app({"NEWS_INDEX": str(index)})
    client = app.test_client()
    pages = ["/", "/?q=markup", "/?q=body", "/?sort=oldest&per_page=100", "/?q=evil"]
    pages += [f"/articles/{i}?q=alert" for i in expected["stored"]]
    for url in pages:
        resp = client.get(url)
        assert resp.status_code == 200, url
        html = resp.get_data(as_text=True)
        for marker in RAW_MARKERS:
            assert marker not in html, (url, marker)
    api = client.get("/api/articles/h-markup").get_json()
    assert api["source_url"] is None  # javascript: is never offered as a link
    assert client.get("/api/articles/h-data-url").get_json()["source_url"] is None
    app.extensions["archive"].close()
