"""What is distinctive about a search (``GET /api/significant``, ``search.significant``): on a
filter whose distinctive words are known (the made-up archive's Sport articles are about a
regatta, its Business ones about a bakery), and counts equal to plain counts over the stored
articles."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from search.analysis import fold, snowball_stem
from search.significant import jlh
from web import create_app

from . import research_archive
from .conftest import ENGINES
from .plain import all_articles


@pytest.fixture(scope="module", params=ENGINES)
def small(request, tmp_path_factory):
    """The research archive, on each engine (the Xapian one loaded into a real local cluster
    of its own)."""
    directory = tmp_path_factory.mktemp("significant") / "ix"
    research_archive.build(directory)
    articles = all_articles(directory)
    config, cluster = {"NEWS_INDEX": str(directory)}, None
    if request.param == "xapian":
        from .clusters import loaded

        cluster = loaded(articles, tmp_path_factory.mktemp("significant-cluster"))
        config = {"NEWS_ENGINE": "xapian", "NEWS_SHARDS": cluster.value}
    app = create_app({**config, "TESTING": True})
    yield app.test_client(), articles
    app.extensions["archive"].close()
    if cluster is not None:
        cluster.stop()


def significant(client, **params):
    resp = client.get("/api/significant?" + urlencode(params, doseq=True))
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def holding(articles, word) -> set[str]:
    stem = snowball_stem(word)
    return {a.id for a in articles
            if stem in {snowball_stem(fold(w.lower()))
                        for w in re.findall(r"\w+", a.headline + " " + a.body)}}


@pytest.mark.parametrize("section,words", [("Sport", {"regatta", "rowing", "oarsmen"}),
                                           ("Business", {"bakery", "sourdough"})])
def test_the_known_distinctive_words_come_first(small, section, words):
    client, _ = small
    body = significant(client, section=section)
    top = [t["term"] for t in body["words"][:len(words)]]
    assert set(top) == words, body["words"]
    # the everyday words, spread evenly over the archive, score far lower
    everyday = [t for t in body["words"] if t["term"] in research_archive.EVERYDAY]
    assert all(t["score"] < body["words"][0]["score"] / 10 for t in everyday)


def test_names_stand_out_too(small):
    client, _ = small
    body = significant(client, section="Sport")
    assert [t["term"] for t in body["people"]] == ["Petra Skiff"]
    assert body["people"][0]["foreground"] == body["people"][0]["background"] == 10


def test_counts_and_scores_equal_plain_counts(small):
    client, articles = small
    body = significant(client, section="Sport")
    sport = {a.id for a in articles if a.section == "Sport"}
    assert body["foreground"] == len(sport) and body["background"] == len(articles)
    for t in body["words"]:
        with_word = holding(articles, t["term"])
        assert t["foreground"] == len(with_word & sport), t
        assert t["background"] == len(with_word), t
        expected = jlh(t["foreground"], len(sport), t["background"], len(articles))
        assert t["score"] == pytest.approx(float(expected), abs=1e-6)
    scores = [t["score"] for t in body["words"]]
    assert scores == sorted(scores, reverse=True)


def test_the_query_words_are_left_out_and_each_term_adds_to_the_search(small):
    client, _ = small
    body = significant(client, q="regatta")
    terms = {t["term"] for t in body["words"]}
    assert "regatta" not in terms and {"rowing", "oarsmen"} <= terms
    rowing = next(t for t in body["words"] if t["term"] == "rowing")
    assert parse_qs(urlsplit(rowing["search_url"]).query)["q"] == ["regatta rowing"]
    # a name adds a filter; the filter's own name is not listed
    skiff = significant(client, q="regatta")["people"][0]
    assert parse_qs(urlsplit(skiff["search_url"]).query) == {"q": ["regatta"],
                                                             "person": ["Petra Skiff"]}
    assert significant(client, person="Petra Skiff")["people"] == []
    # following the link narrows the search to articles holding both
    found = client.get("/api/search?" + urlsplit(rowing["search_url"]).query).get_json()
    assert found["total"] == rowing["foreground"]


def test_everything_and_nothing(small):
    client, _ = small
    everything = significant(client)
    assert everything["words"] == [] and everything["notes"]
    nothing = significant(client, q="zeppelin")
    assert nothing["foreground"] == 0 and nothing["words"] == []


def test_reuters_opec_words(reuters_ingest):
    """On a real corpus: the articles tagged OPEC stand out by words of oil diplomacy."""
    _, index, _ = reuters_ingest
    app = create_app({"NEWS_INDEX": str(index), "TESTING": True})
    try:
        body = significant(app.test_client(), organization="OPEC", size=10)
        terms = {t["term"] for t in body["words"]}
        assert {"opec", "bpd"} <= terms and ("barrels" in terms or "barrel" in terms)
        articles = [a for a in all_articles(index)]
        opec = {a.id for a in articles if "OPEC" in a.organizations}
        assert body["foreground"] == len(opec)
        bpd = next(t for t in body["words"] if t["term"] == "bpd")
        with_bpd = holding(articles, "bpd")
        assert (bpd["foreground"], bpd["background"]) == (len(with_bpd & opec), len(with_bpd))
        assert "Saudi Arabia" in {t["term"] for t in body["places"]}
    finally:
        app.extensions["archive"].close()


@pytest.mark.parametrize("params,param", [({"size": "0"}, "size"), ({"size": "51"}, "size"),
                                          ({"year": "x"}, "year")])
def test_bad_parameters_are_400s(small, params, param):
    client, _ = small
    resp = client.get("/api/significant?" + urlencode(params))
    assert resp.status_code == 400 and resp.get_json()["error"]["param"] == param
    assert client.get("/significant?" + urlencode(params)).status_code == 400


def test_the_page_and_the_panel_link(small):
    client, _ = small
    html = client.get("/significant?section=Sport").get_data(as_text=True)
    assert ">regatta</a>" in html and "Petra Skiff" in html
    results = client.get("/?section=Sport").get_data(as_text=True)
    assert 'data-api="/api/significant?section=Sport&amp;size=5"' in results
    assert 'href="/significant?section=Sport"' in results
    assert "data-api=\"/api/significant" not in client.get("/").get_data(as_text=True)
