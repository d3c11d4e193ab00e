"""Time limits on searches, and the limits on what a client controls."""

import time

import pytest

import search.engines.whoosh.matching
from search.errors import SearchTimeout
from search.models import SearchRequest
from search.params import MAX_FILTER_VALUES, MAX_QUERY_CHARS
from search.service import Archive
from web import create_app

from .conftest import ENGINES, engine_config


def test_ranking_past_the_limit_returns_what_it_found(demo_index, monkeypatch):
    # the reference search with no practical limit (a cold first search builds the facet
    # arrays), then the same with a limit that the slowed scorer passes after one term
    archive = Archive(demo_index, time_limit=60)
    full = archive.search(SearchRequest(q="harbour ferry"))
    assert not full.timed_out and len(full.hits) > 1
    archive.time_limit = 0.5
    scored = []
    original = search.engines.whoosh.matching._term_scores

    def slow_term_scores(*args, **kwargs):
        # the first term takes past the time limit: the remaining terms are not scored
        scored.append(args[:2])
        result = original(*args, **kwargs)
        time.sleep(0.6)
        return result

    monkeypatch.setattr(search.engines.whoosh.matching, "_term_scores", slow_term_scores)
    res = archive.search(SearchRequest(q="harbour ferry"))
    archive.close()
    assert res.timed_out and len(scored) == 1  # four terms (2 words x 2 fields); one scored
    assert len(res.hits) == len(full.hits)
    assert res.total == full.total > 1  # counts and facets are still exact
    assert res.facets == full.facets


@pytest.fixture(params=ENGINES)
def engine(request, demo_index) -> dict:
    return engine_config(request, demo_index)


def test_matching_past_the_limit_is_a_clear_503(engine):
    """On both engines (the Xapian engine stops the match on every shard at the limit, with
    Xapian's own ``Enquire.set_time_limit``, and refuses a match cut short)."""
    archive = Archive(engine.get("NEWS_INDEX"), time_limit=0.0, engine=engine.get(
        "NEWS_ENGINE"), shards=engine.get("NEWS_SHARDS"))
    with pytest.raises(SearchTimeout):
        archive.search(SearchRequest(q="harbour"))
    archive.close()
    app = create_app({**engine, "SEARCH_TIME_LIMIT": 0.0})
    client = app.test_client()
    resp = client.get("/api/search?q=harbour")
    assert resp.status_code == 503
    assert resp.get_json()["error"]["code"] == "timeout"
    page = client.get("/?q=harbour")
    assert page.status_code == 503 and "took too long" in page.get_data(as_text=True)
    app.extensions["archive"].close()


@pytest.mark.parametrize("query, limit_text", [
    ("q=" + "x" * (MAX_QUERY_CHARS + 1), f"at most {MAX_QUERY_CHARS} characters"),
    ("&".join(["person=p"] * (MAX_FILTER_VALUES + 1)), f"at most {MAX_FILTER_VALUES}"),
    ("&".join(["section=s"] * (MAX_FILTER_VALUES + 1)), f"at most {MAX_FILTER_VALUES}"),
    ("&".join([f"year={2000 + i}" for i in range(MAX_FILTER_VALUES + 1)]), f"at most {MAX_FILTER_VALUES}"),
    ("per_page=101", "from 1 to 100"), ("page=1001", "from 1 to 1000"),
    ("facet_size=101", "from 1 to 100"),
    ("person=" + "p" * 201, "at most 200 characters"),
])
def test_each_limit_is_a_400_that_states_it(demo_index, query, limit_text):
    app = create_app({"NEWS_INDEX": str(demo_index)})
    resp = app.test_client().get("/api/search?" + query)
    assert resp.status_code == 400
    assert limit_text in resp.get_json()["error"]["message"]
    app.extensions["archive"].close()
