"""The researchers' query operators (``search.operators``), each against a plain count over
the stored articles: proximity ``"a b"~N`` / ``a NEAR/N b``, fuzzy ``word~`` / ``word~2``,
``date:`` inside the query, ``exact:word``."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from whoosh.analysis import STOP_WORDS

from search.analysis import fold, snowball_stem
from search.params import parse_search_params
from search.service import Archive

from . import research_archive
from .plain import all_articles

_WORD = re.compile(r"\w+(?:\.?\w+)*")


def terms(text: str) -> list[str]:
    """The terms of ``text`` in order, stop words and one-letter words out, as the index
    numbers its positions."""
    out = []
    for m in _WORD.finditer(text or ""):
        word = fold(m.group().lower())
        if word not in STOP_WORDS and len(word) > 1:
            out.append(snowball_stem(word))
    return out


def within(text: str, a: str, b: str, distance: int) -> bool:
    found = terms(text)
    pa = [i for i, t in enumerate(found) if t == a]
    pb = [i for i, t in enumerate(found) if t == b]
    return any(abs(i - j) <= distance for i in pa for j in pb)


def osa(a: str, b: str) -> int:
    """Edit distance counting a swap of two neighbours as one edit (optimal string alignment)."""
    d = [[i + j if i * j == 0 else 0 for j in range(len(b) + 1)] for i in range(len(a) + 1)]
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1,
                          d[i - 1][j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def search(archive, q, **params):
    pairs = {"q": [q], "per_page": ["100"], "group": ["none"]}
    pairs.update({k: [str(v)] for k, v in params.items()})
    return archive.search(parse_search_params(pairs))


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    directory = tmp_path_factory.mktemp("operators") / "ix"
    research_archive.build(directory)
    archive = Archive(directory)
    yield archive, all_articles(directory)
    archive.close()


@pytest.fixture(scope="module")
def reuters(reuters_ingest):
    _, index, _ = reuters_ingest
    archive = Archive(index)
    yield archive, all_articles(index)
    archive.close()


@pytest.fixture(scope="module")
def reuters_stems(reuters):
    """Each Reuters article's set of terms (headline and body), and every term's articles."""
    _, articles = reuters
    stem_of: dict[str, str] = {}
    by_term: dict[str, set[str]] = {}
    for a in articles:
        words = {fold(w.lower()) for f in (a.headline, a.body) for w in _WORD.findall(f or "")}
        for w in words - STOP_WORDS:
            t = stem_of.get(w) or stem_of.setdefault(w, snowball_stem(w))
            by_term.setdefault(t, set()).add(a.id)
    return by_term


def near_plain(articles, a, b, distance):
    return {x.id for x in articles
            if within(x.headline, a, b, distance) or within(x.body, a, b, distance)}


@pytest.mark.parametrize("distance", [1, 2, 3, 6])
def test_proximity_in_any_order_equals_a_plain_count(small, distance):
    archive, articles = small
    expected = near_plain(articles, "harbour", "ferri", distance)
    for q in (f'"harbour ferry"~{distance}', f'"ferry harbour"~{distance}',
              f"harbour NEAR/{distance} ferry", f"ferry near/{distance} harbour"):
        found = search(archive, q)
        assert {h.id for h in found.hits} == expected, q
    # "within 1" is next to each other in either order: r01 "harbour ferry", r06 "ferry. The
    # harbour" (the stop word is not counted)
    if distance == 1:
        assert expected == {"r01", "r06"}
    # an ordered phrase finds only "harbour ferry"
    assert {h.id for h in search(archive, '"harbour ferry"').hits} == {"r01"}


@pytest.mark.parametrize("a,b,distance", [("interest", "rates", 3), ("oil", "prices", 1),
                                          ("dollar", "yen", 5)])
def test_proximity_on_reuters_equals_a_plain_count(reuters, reuters_stems, a, b, distance):
    archive, articles = reuters
    ta, tb = snowball_stem(a), snowball_stem(b)
    candidates = reuters_stems.get(ta, set()) & reuters_stems.get(tb, set())
    by_id = {x.id: x for x in articles}
    expected = near_plain([by_id[i] for i in candidates], ta, tb, distance)
    assert len(expected) > 10
    assert search(archive, f'"{a} {b}"~{distance}').total == len(expected)
    assert search(archive, f"{b} NEAR/{distance} {a}").total == len(expected)
    # the marks are the two words
    hit = search(archive, f'"{a} {b}"~{distance}').hits[0]
    marked = {m.lower() for m in re.findall(r"<mark>(.*?)</mark>", hit.snippet_html + hit.headline_html)}
    assert marked and all(snowball_stem(fold(m)) in (ta, tb) for m in marked)


def test_fuzzy_words_find_misspelt_names(small):
    archive, articles = small
    one = search(archive, "gorbachova~")
    assert {h.id for h in one.hits} == {"r05"}
    # the written forms within 1 and 2 edits, as the highlighter marks them
    marks = {m for h in one.hits for m in re.findall(r"<mark>(.*?)</mark>",
                                                     h.headline_html + h.snippet_html)}
    assert marks == {"Gorbatchova", "Gorbachova"}
    two = search(archive, "gorbachova~2")
    marks = {m for h in two.hits for m in re.findall(r"<mark>(.*?)</mark>",
                                                     h.headline_html + h.snippet_html)}
    assert marks == {"Gorbatchova", "Gorbachova", "Gorbatchowa"}
    assert search(archive, "gorbachova").total == 1  # the word as written is there too
    assert search(archive, "gorbatchowa~3").notes  # more than 2 edits: said


@pytest.mark.parametrize("word,edits", [("volker", 1), ("reagen", 1), ("yeutter", 2)])
def test_fuzzy_equals_a_plain_count_on_reuters(reuters, reuters_stems, word, edits):
    archive, _ = reuters
    target = snowball_stem(word)
    close = [t for t in reuters_stems if abs(len(t) - len(target)) <= edits
             and osa(t, target) <= edits]
    expected = set().union(*(reuters_stems[t] for t in close)) if close else set()
    assert len(expected) > 5
    assert search(archive, f"{word}~{edits}" if edits > 1 else f"{word}~").total == len(expected)


def test_dates_in_the_query_and_with_from_and_to(small):
    archive, articles = small
    dated = {a.id: a.date for a in articles}

    def plain(first, last, extra=lambda a: True):
        return {a.id for a in articles if a.date and first <= a.date <= last and extra(a)}

    cases = {
        "date:2021": plain(dt.date(2021, 1, 1), dt.date(2021, 12, 31)),
        "date:2021-03": plain(dt.date(2021, 3, 1), dt.date(2021, 3, 31)),
        "date:2021-03-04": plain(dt.date(2021, 3, 4), dt.date(2021, 3, 4)),
        "date:[2021-03-01 TO 2022-06-30]": plain(dt.date(2021, 3, 1), dt.date(2022, 6, 30)),
        "date:[2022 TO *]": plain(dt.date(2022, 1, 1), dt.date.max),
        "date:[* TO 2020-02]": plain(dt.date.min, dt.date(2020, 2, 29)),
        "ferry date:[2021 TO 2022]": plain(dt.date(2021, 1, 1), dt.date(2022, 12, 31),
                                           lambda a: "ferry" in (a.headline + a.body).lower()),
        "date:2021 OR date:2023": plain(dt.date(2021, 1, 1), dt.date(2021, 12, 31))
        | plain(dt.date(2023, 1, 1), dt.date(2023, 12, 31)),
    }
    for q, expected in cases.items():
        found = search(archive, q)
        assert {h.id for h in found.hits} == expected and expected, q
    # with from/to: both hold (AND)
    found = search(archive, "date:2021", **{"from": "2021-06"})
    assert {h.id for h in found.hits} == plain(dt.date(2021, 6, 1), dt.date(2021, 12, 31))
    assert search(archive, "date:2021", **{"from": "2022"}).total == 0
    # NOT a date: every other article, undated ones included
    assert search(archive, "NOT date:2021").total == len(articles) - len(cases["date:2021"])
    assert "r05" in {h.id for h in search(archive, "NOT date:2021").hits} and dated["r05"] is None


@pytest.mark.parametrize("q", ["date:someday ferry", "date:2021-02-30 ferry",
                               "date:[2022 TO 2021] ferry", "date:[2021 ferry"])
def test_a_date_that_cannot_be_read_is_left_out_with_a_note(small, q):
    archive, _ = small
    found = search(archive, q)
    assert found.total == search(archive, "ferry").total
    assert any("date:" in n for n in found.notes), found.notes


def test_exact_words_skip_stemming(small):
    archive, articles = small
    exact = search(archive, "exact:running")
    stemmed = search(archive, "running")
    plain = {a.id for a in articles if re.search(r"\brunning\b", a.headline + " " + a.body, re.I)}
    assert {h.id for h in exact.hits} == plain == {"r01", "r03"}
    assert stemmed.total >= exact.total
    for h in exact.hits:  # only "running" is marked, not "runs" or "run"
        marks = re.findall(r"<mark>(.*?)</mark>", h.headline_html + h.snippet_html)
        assert marks and {m.lower() for m in marks} == {"running"}
    assert {h.id for h in search(archive, "headline:exact:running").hits} == {"r01"}
    assert search(archive, "exact:the ferry").notes  # a stop word: left out, said


@pytest.mark.parametrize("word", ["rates", "prices", "bank"])
def test_exact_equals_a_plain_count_on_reuters(reuters, word):
    archive, articles = reuters
    pattern = re.compile(rf"(?<![\w.]){word}(?![\w]|\.\w)", re.I)
    expected = {a.id for a in articles if pattern.search(a.headline) or pattern.search(a.body)}
    found = search(archive, f"exact:{word}")
    assert found.total == len(expected) > 50
    assert search(archive, word).total > found.total  # the stem's other forms too


def test_a_query_of_many_fuzzy_words_is_bounded(small):
    """Each fuzzy word is a look-up over the whole word list: past the eighth, words are
    searched as written, and a note says so."""
    archive, _ = small
    q = " OR ".join(f"word{i}~" for i in range(12)) + " OR gorbatchowx~"
    found = search(archive, q)
    assert any("fuzzy" in n for n in found.notes)
    assert found.total == 0  # the 13th: searched as written, which no article has
    assert search(archive, "gorbatchowx~ OR " + q).total == 1


def test_the_search_tips_and_the_openapi_document_show_each_operator(demo_index):
    from web import create_app

    app = create_app({"NEWS_INDEX": str(demo_index), "TESTING": True})
    try:
        client = app.test_client()
        tips = client.get("/").get_data(as_text=True)
        spec = client.get("/api/openapi.json").get_json()
        q = next(p for p in spec["paths"]["/api/search"]["get"]["parameters"]
                 if p["name"] == "q")["description"]
        for example in ('"interest rates"~5', "interest NEAR/5 rates", "gorbachov~",
                        "gorbachov~2", "date:1987-03", "date:[1987-03-01 TO 1987-06-30]",
                        "exact:running"):
            assert example.replace('"', "&#34;") in tips or example in tips, example
        for example in ('"bank rates"~5', "bank NEAR/5 rates", "gorbachov~", "date:1987",
                        "date:[1987-03-01 TO 1987-06-30]", "exact:running"):
            assert example in q, example
    finally:
        app.extensions["archive"].close()
