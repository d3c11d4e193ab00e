"""The search core and API on all of Reuters-21578 (needs ../shared/data)."""

import datetime as dt

import pytest

from search.models import SearchRequest
from search.service import Archive

from .plain import all_articles, facet_counts

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


@pytest.fixture(scope="module")
def reuters(reuters_ingest):
    _, index, _ = reuters_ingest
    arch = Archive(index)
    yield arch, index
    arch.close()


@pytest.fixture(scope="module")
def articles(reuters):
    return all_articles(reuters[1])


@pytest.mark.parametrize("filters", [
    {},
    {"person": ("James Baker", "Volcker")},
    {"person": ("Volcker",), "section": ("money-fx", "interest")},
    {"section": ("earn",), "date_from": dt.date(1987, 3, 1), "date_to": dt.date(1987, 3, 31)},
    {"year": (1987,), "person": ("Yeutter",)},
])
def test_facet_counts_equal_plain_counts(reuters, articles, filters):
    archive, _ = reuters
    res = archive.search(SearchRequest(facet_size=100, **filters))
    total, people, sections, years, undated = facet_counts(articles, **filters)
    assert res.total == total
    got_people = {v.value: v.count for v in res.facets["people"]}
    top = sorted(people.items(), key=lambda kv: (-kv[1], kv[0]))[:100]
    assert {k: v for k, v in got_people.items() if k not in filters.get("person", ())} == \
        {k: v for k, v in top if k not in filters.get("person", ())}
    for p in filters.get("person", ()):
        assert got_people[p] == people.get(p, 0)
    assert {v.value: v.count for v in res.facets["section"]} == dict(sections) | \
        {s: sections.get(s, 0) for s in filters.get("section", ())}
    assert {v.value: v.count for v in res.facets["year"]} == dict(years) | \
        {y: years.get(y, 0) for y in filters.get("year", ())}
    assert res.undated == undated


def test_suggestion_volkcer_to_volcker(reuters):
    archive, _ = reuters
    res = archive.search(SearchRequest(q="volkcer"))
    assert res.total == 0 and res.suggestion is not None and res.suggestion.q == "volcker"
    assert archive.search(SearchRequest(q="volcker")).total > 50


def test_no_suggestion_for_a_query_that_found_its_hits(reuters):
    """"volker" (one article spells it so) and '"unclosed' found their hits: no "did you mean"
    (it offered "volcker" and "uncle" before)."""
    archive, _ = reuters
    for q in ("volker", '"unclosed', "unclosed"):
        res = archive.search(SearchRequest(q=q))
        assert res.total >= 1 and res.suggestion is None, (q, res.total, res.suggestion)
    # one side of an OR the archive does not know at all still gets its correction
    res = archive.search(SearchRequest(q="volker OR greenspn"))
    assert res.total == 1 and res.suggestion is not None
    assert res.suggestion.q == "volker OR greenspan"  # the known word is left as typed


def test_query_kinds_on_a_real_corpus(reuters):
    archive, _ = reuters
    oil = archive.search(SearchRequest(q="oil")).total
    prices = archive.search(SearchRequest(q="prices")).total
    both = archive.search(SearchRequest(q="oil prices")).total
    phrase = archive.search(SearchRequest(q='"oil prices"')).total
    assert 0 < phrase <= both <= min(oil, prices)
    assert archive.search(SearchRequest(q="oil OR prices")).total >= max(oil, prices)
    assert archive.search(SearchRequest(q="oil -prices")).total == oil - both
    assert archive.search(SearchRequest(q="petrol*")).total > 0
    res = archive.search(SearchRequest(q='people:"james baker"', per_page=100))
    assert res.total > 0 and all("James Baker" in h.people for h in res.hits)
    assert archive.search(SearchRequest(q="person:volcker")).total > 0
