"""The search core and API on all of Reuters-21578 (needs ../shared/data)."""

import datetime as dt
import re

import pytest

from search.models import SearchRequest
from search.service import Archive

from .plain import all_articles, facet_counts, text_matches

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


def test_query_kinds_on_a_real_corpus(reuters, articles):
    archive, _ = reuters
    oil = archive.search(SearchRequest(q="oil")).total
    prices = archive.search(SearchRequest(q="prices")).total
    both = archive.search(SearchRequest(q="oil prices")).total
    phrase = archive.search(SearchRequest(q='"oil prices"')).total
    assert 0 < phrase <= both <= min(oil, prices)
    assert archive.search(SearchRequest(q="oil OR prices")).total >= max(oil, prices)
    assert archive.search(SearchRequest(q="oil -prices")).total == oil - both
    assert archive.search(SearchRequest(q="petrol*")).total == \
        len(text_matches(articles, r"\bpetrol\w*")) > 100
    res = archive.search(SearchRequest(q='people:"james baker"', per_page=100))
    baker = {a.id for a in articles if any(re.search(r"\bjames baker\b", p, re.I)
                                           for p in a.people)}
    assert res.total == len(baker) >= 10 and {h.id for h in res.hits} <= baker
    volcker = {a.id for a in articles if any(re.search(r"\bvolcker\b", p, re.I)
                                             for p in a.people)}
    assert archive.search(SearchRequest(q="person:volcker")).total == len(volcker) >= 10


TWO_LETTER_PREFIXES = " OR ".join(f"{a}{b}*" for a in "abcdefghijklmnop" for b in "aeiou")[:500]
PHRASES = " OR ".join(f'"{p}"' for p in (
    "oil prices", "interest rates", "trade deficit", "crude oil", "central bank", "money supply",
    "stock exchange", "net profit", "federal reserve", "exchange rate", "per share", "last year",
    "first quarter", "billion dlrs", "mln dlrs", "told reporters", "united states", "west german",
    "finance minister", "budget deficit", "economic growth", "market share", "common stock",
    "oil output"))
HOSTILE = [TWO_LETTER_PREFIXES, PHRASES, "st* pr* co* ma* re*", "stat* OR pric* OR comp* OR bank*"]


def _timed(archive, q):
    import time

    from search.errors import SearchTimeout

    started = time.perf_counter()
    try:
        archive.search(SearchRequest(q=q))
        outcome = "answered"
    except SearchTimeout:
        outcome = "timeout"
    return time.perf_counter() - started, outcome


@pytest.mark.parametrize("q", HOSTILE)
def test_the_time_limit_holds_on_hostile_queries(reuters, q):
    """With a 0.2 s limit each hostile query answers (or gives up) soon after it: the limit was
    checked only after matching, and facets, suggestions and highlights had none (2.4 s)."""
    _, index = reuters
    limit = 0.2
    for _ in range(2):  # cold, then with the postings cached
        archive = Archive(index, time_limit=limit)
        seconds, _ = _timed(archive, q)
        archive.close()
        # the target is the limit + 100 ms (docs/performance.md has the measured figures);
        # the bound here leaves room for a loaded CI machine (clean clones on these shared
        # 2-core machines took 0.56 and 0.69 s; without the limit's checks, 2.4 s)
        assert seconds <= limit + 0.6, (q, seconds)


def test_the_limit_is_checked_while_matching_not_after(reuters, monkeypatch):
    """Matching consults its deadline as it goes (between terms, between a prefix's words, for
    each segment of a phrase): given a deadline of 20 looks, matching the hostile phrases and
    prefixes stops at the 21st, long before its end. A check only after matching would let it
    run to the end. (Matching got fast enough with index format 3 that wall-clock timing could
    no longer tell the two apart on Reuters: 0.05-0.13 s.)"""
    import search.engines.whoosh.matching as sm
    import search.query as sq
    from search.errors import SearchTimeout

    archive, _ = reuters
    looks = []

    def counting_past(deadline):
        looks.append(deadline)
        if len(looks) > deadline:
            raise SearchTimeout("past the deadline")

    monkeypatch.setattr(sm, "past", counting_past)
    text = PHRASES[:240] + " OR " + TWO_LETTER_PREFIXES[:250]
    with archive.engine._searching() as opened:
        facets = archive.engine._facets.get(opened.key, opened.searcher)
        parsed = sq.parse_query(sq.clean_query_text(text, []), opened.searcher.schema,
                                opened.searcher.reader(), [])
        sm.matched_mask(parsed, opened.searcher, facets, deadline=10**9)
        whole = len(looks)
        assert whole >= 200  # how often matching this query looks at its deadline
        looks.clear()
        with pytest.raises(SearchTimeout):
            sm.matched_mask(parsed, opened.searcher, facets, deadline=20)
        assert len(looks) == 21
