"""The schema's one-pass text indexing gives exactly the terms of Whoosh's analyzer chain, and
spelling suggestions work from the stemmed words alone."""

from __future__ import annotations

import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from whoosh.analysis import StandardAnalyzer, StemmingAnalyzer
from whoosh.fields import TEXT

from search.engines.whoosh.indexer import Indexer
from search.ingest import check_paths
from search.ingest.records import load_articles
from search.models import Article
from search.params import parse_search_params
from search.analysis import text_analyzer
from search.schema import HEADLINE_BOOST, ArrayPositions, ArticleText, build_schema
from search.service import Archive
from tests.conftest import DEMO


def chain_terms(text: str, boost: float = 1.0, analyzer=None) -> list:
    """Whoosh's own TEXT field with the analyzer chain, its positions stored as ours are."""
    field = TEXT(analyzer=analyzer or text_analyzer(), field_boost=boost)
    field.format = ArrayPositions(field_boost=boost)
    return sorted(field.index(text))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), max_size=50).map(sorted),
       st.sampled_from([1.0, 2.0]))
def test_array_positions_read_back_as_whooshs_positions(positions, boost):
    """Index format 3 stores positions as uint32 arrays: each value decodes to the positions,
    frequency and weight Whoosh's own Positions format gives for the same list."""
    from whoosh.formats import Positions

    ours, whooshs = ArrayPositions(field_boost=boost), Positions(field_boost=boost)
    value, reference = ours.encode(positions), whooshs.encode(positions)
    assert ours.decode_positions(value) == whooshs.decode_positions(reference) == positions
    assert ours.decode_frequency(value) == whooshs.decode_frequency(reference)
    assert ours.decode_weight(value) == whooshs.decode_weight(reference)


def one_pass_terms(text: str, boost: float = 1.0) -> list:
    return sorted(ArticleText(field_boost=boost).index(text))


WORDS = st.sampled_from([
    "the", "a", "of", "I", "elections", "election", "elected", "U.S.", "3.5", "pct", "Nº",
    "naïve", "running", "runs", "x", "up*", "co-operate", "1,000", "It's", "ÉCOLE", "straße",
    "ﬁnance", "...", "—", "\n", "  ", "Reuter", "don't", "a.b.c", "tokyo's", "be", "to",
    "café", "Khloé", "Łódź", "Ærø", "œuvre", "İstanbul", "naïvety", "ﬂ", "Ⅻ", "ǅ",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(WORDS | st.text(max_size=12), max_size=60).map(" ".join),
       st.sampled_from([1.0, HEADLINE_BOOST]))
def test_one_pass_equals_the_analyzer_chain(text, boost):
    assert one_pass_terms(text, boost) == chain_terms(text, boost)


def test_one_pass_equals_the_chain_on_the_demo_articles():
    articles = list(load_articles(check_paths([DEMO], None), on_reject=lambda e: None))
    assert len(articles) > 50
    field = pickle.loads(pickle.dumps(ArticleText(field_boost=HEADLINE_BOOST)))  # as in the TOC
    for a in articles:
        for text in (a.article.headline, a.article.body):
            assert sorted(field.index(text)) == chain_terms(text, HEADLINE_BOOST)
    assert "_one_pass" not in pickle.loads(pickle.dumps(field)).__dict__


@settings(max_examples=150, deadline=None)
@given(st.lists(WORDS | st.text(max_size=12), max_size=40).map(" ".join))
def test_one_pass_of_an_index_made_before_folding_keeps_its_porter_chain(text):
    """An index made by an earlier version pickled StemmingAnalyzer into its schema: new
    articles written into it (a dry run, or Whoosh's own writer) are analysed its way."""
    field = ArticleText()
    field.analyzer = StemmingAnalyzer()
    field.__dict__.pop("_one_pass", None)
    assert sorted(field.index(text)) == chain_terms(text, analyzer=StemmingAnalyzer())


def test_another_analyzer_falls_back_to_whoosh():
    field = ArticleText()
    field.analyzer = StandardAnalyzer()
    text = "The elections were running late in Tokyo"
    assert field._plan() is None
    assert sorted(field.index(text)) == chain_terms(text, analyzer=StandardAnalyzer())
    assert b"running" in {t for t, *_ in field.index(text)}  # unstemmed, as StandardAnalyzer


def test_no_spelling_copies_and_a_year_column():
    schema = build_schema()
    assert not [n for n in schema.names() if n.startswith("spell_")]
    assert not schema["year"].indexed and schema["year"].column_type is not None


@pytest.fixture
def small_archive(tmp_path):
    records = [
        {"id": f"r{i}", "headline": f"Council note {i}",
         "body": "The ferry was running late. Running repairs continue; it runs daily.",
         "date": "2021-03-0%d" % (i + 1)}
        for i in range(4)
    ] + [{"id": "r9", "headline": "Harbour", "body": "A quiet day at the harbour."}]
    path = tmp_path / "a.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with Indexer(tmp_path / "ix") as indexer:
        indexer.upsert(load_articles(check_paths([path], None), on_reject=lambda e: None))
    archive = Archive(tmp_path / "ix")
    yield archive
    archive.close()


def test_suggestion_shows_the_written_form_closest_to_the_typed_word(small_archive):
    # "runing" stems to "rune"; the archive's stem "run" is one edit away and is written
    # "running" (6 times), "runs" (4 times): the suggestion is the form closest to "runing"
    res = small_archive.search(parse_search_params({"q": ["runing"]}))
    assert res.total == 0 and res.suggestion is not None
    assert res.suggestion.q == "running"
    assert small_archive.search(parse_search_params({"q": [res.suggestion.q]})).total == 4
    # a word the archive uses often gets no suggestion
    assert small_archive.search(parse_search_params({"q": ["harbour"]})).suggestion is None


@given(st.builds(
    lambda i, h, b, people, day, section: Article(id=i, headline=h, body=b,
                                                  people=tuple(people), date=day,
                                                  section=section),
    st.text(min_size=1, max_size=8), st.text(max_size=20), st.text(max_size=40),
    st.lists(st.text(max_size=10), max_size=3), st.none() | st.dates(), st.text(max_size=5)))
@settings(max_examples=60, deadline=None)
def test_an_article_s_fingerprint_is_the_one_earlier_versions_stored(article):
    """``Article.to_dict`` is what ``dataclasses.asdict`` makes, and the content hash stored
    as every article's fingerprint is what versions before organisations and places made
    (their ``asdict`` without those fields): an index written before keeps recognising its
    articles as unchanged. An article with organisations or places hashes differently."""
    import dataclasses
    import hashlib

    now = dataclasses.asdict(article)
    for kind in ("people", "organizations", "places"):
        now[kind] = list(now[kind])
    now["date"] = article.date.isoformat() if article.date else None
    assert article.to_dict() == now
    before = {k: v for k, v in now.items() if k not in ("organizations", "places")}
    blob = json.dumps(before, sort_keys=True, ensure_ascii=False)
    assert article.content_hash == hashlib.sha1(blob.encode("utf-8")).hexdigest()[:20]
    named = dataclasses.replace(article, places=("Ruritania",))
    assert named.content_hash != article.content_hash
