"""The search core on the demo archive and on small hostile archives."""

import datetime as dt
import re

import pytest

from search.errors import ArticleNotFound, ParamError
from search.engines.whoosh.indexer import Indexer
from search.models import Article, SearchRequest
from search.params import parse_search_params
from search.service import Archive

from .plain import all_articles, facet_counts, text_matches


@pytest.fixture(scope="module")
def archive(demo_index):
    arch = Archive(demo_index)
    yield arch
    arch.close()


def search(archive, **params):
    return archive.search(parse_search_params(
        {k: v if isinstance(v, list) else [str(v)] for k, v in params.items()}))


def ids(result):
    return [h.id for h in result.hits]


def facet(result, name):
    return {v.value: v.count for v in result.facets[name]}


def test_words_are_anded_and_stemmed(archive):
    both = search(archive, q="ferry terminal", per_page=100)
    ferry = set(ids(search(archive, q="ferry", per_page=100)))
    terminal = set(ids(search(archive, q="terminal", per_page=100)))
    assert set(ids(both)) == ferry & terminal and both.total == len(ferry & terminal) > 0
    # "election" finds "elected"/"elections" through the stemmer
    election = search(archive, q="election", per_page=100)
    assert "mqc-2019-005" in ids(election)  # has "re-elected" and "election"
    assert any("<mark>elected</mark>" in h.snippet_html for h in election.hits)


def test_phrase_or_not_minus_prefix(archive):
    phrase = search(archive, q='"ferry terminal"', per_page=100)
    loose = search(archive, q="ferry terminal", per_page=100)
    assert 0 < phrase.total <= loose.total
    for h in phrase.hits:
        assert re.search(r"ferry terminal", f"{h.headline} {archive.article(h.id).body}", re.I)
    either = search(archive, q="seal OR turbine", per_page=100)
    assert either.total == len(set(ids(search(archive, q="seal", per_page=100)))
                               | set(ids(search(archive, q="turbine", per_page=100))))
    minus = search(archive, q="lighthouse -turbine", per_page=100)
    notq = search(archive, q="lighthouse NOT turbine", per_page=100)
    arts = all_articles(archive.directory)
    lighthouse = text_matches(arts, r"\blighthouses?\b")
    expected = lighthouse - text_matches(arts, r"\bturbines?\b")
    assert ids(minus) == ids(notq) and set(ids(minus)) == expected and len(expected) >= 2
    prefix = search(archive, q="lighth*", per_page=100)
    assert set(ids(prefix)) == text_matches(arts, r"\blighth\w*") == lighthouse
    assert any("<mark>" in h.headline_html for h in prefix.hits)


def test_field_queries(archive):
    arts = all_articles(archive.directory)
    res = search(archive, q='people:"caspian lowe"', per_page=100)
    assert set(ids(res)) == {a.id for a in arts if "Caspian Lowe" in a.people}
    assert res.total >= 2
    assert search(archive, q='person:"CASPIAN LOWE"').total == res.total
    sec = search(archive, q="section:sport", per_page=100)
    assert set(ids(sec)) == {a.id for a in arts if a.section == "Sport"} and sec.total >= 2
    head = search(archive, q="headline:rovers", per_page=100)
    assert set(ids(head)) == text_matches(arts, r"\brovers?\b", ["headline"])
    assert head.total >= 1
    body_only = search(archive, q="body:rovers", per_page=100)
    assert body_only.total >= head.total - 1


def test_headline_outranks_body(tmp_path):
    """The headline counts twice: BM25F puts a field's weight into its term frequencies, so a
    word once in a headline scores as the same word twice in a body, and above it once (with
    every headline and every body of the same length, the fields' lengths do not interfere)."""
    filler = " ".join(f"word{i}" for i in range(40))
    others = [Article(id=f"o{i}", headline=f"Harbour notes {w}", body=filler, people=())
              for i, w in enumerate(["posted", "filed", "printed", "shared", "sent", "kept"])]
    with Indexer(tmp_path / "ix") as indexer:
        indexer.upsert([
            *others,
            Article(id="head", headline="Gannet colony counted", body=filler, people=()),
            Article(id="twice", headline="Cliff survey posted", people=(),
                    body=" ".join(["gannet", "gannet", *filler.split()[2:]])),
            Article(id="head2", headline="Puffin colony counted", body=filler, people=()),
            Article(id="once", headline="Cliff survey filed", people=(),
                    body=" ".join(["puffin", *filler.split()[1:]])),
        ])
    arch = Archive(tmp_path / "ix")
    try:
        # each word in one headline and one body, so that both fields weigh it alike (idf);
        # every article (the same filler body: one story) shown
        scores = {h.id: h.score for h in search(arch, q="gannet", group="none").hits}
        assert set(scores) == {"head", "twice"}
        assert scores["head"] == pytest.approx(scores["twice"], abs=1e-3)
        scores = {h.id: h.score for h in search(arch, q="puffin", group="none").hits}
        assert set(scores) == {"head2", "once"}
        assert scores["head2"] / scores["once"] == pytest.approx(1.375, abs=0.01)  # tf 2 : 1
    finally:
        arch.close()


def test_filters_only_counts_equal_plain_counts(archive, demo_index):
    arts = all_articles(demo_index)
    cases = [
        {},
        {"person": ("Tobias Wren", "Caspian Lowe")},
        {"person": ("Tobias Wren",), "year": (2021, 2022)},
        {"section": ("Politics", "Sport"), "year": (2023,)},
        {"date_from": dt.date(2020, 1, 1), "date_to": dt.date(2022, 6, 30)},
        {"person": ("Caspian Lowe",), "section": ("Local",), "date_from": dt.date(2021, 1, 1)},
    ]
    for f in cases:
        res = archive.search(SearchRequest(facet_size=100, **f))
        total, people, sections, years, undated = facet_counts(arts, **f)
        assert res.total == total, f
        assert facet(res, "people") == {k: v for k, v in people.items()} | \
            {p: people.get(p, 0) for p in f.get("person", ())}, f
        assert facet(res, "section") == dict(sections) | \
            {s: sections.get(s, 0) for s in f.get("section", ())}, f
        assert facet(res, "year") == dict(years) | {y: years.get(y, 0) for y in f.get("year", ())}, f
        assert res.undated == undated, f


def test_multi_select_after_choosing_two_people(archive):
    res = search(archive, person=["Tobias Wren", "Caspian Lowe"], facet_size=100)
    people = {v.value: v for v in res.facets["people"]}
    assert people["Tobias Wren"].selected and people["Caspian Lowe"].selected
    # the people facet ignores its own filter: counts are those of the unfiltered archive
    unfiltered = facet(search(archive, facet_size=100), "people")
    assert {k: v.count for k, v in people.items()} == unfiltered
    assert not people["Odile Brannock"].selected
    # while the total is the union of the two people's articles
    wren = set(ids(search(archive, person=["Tobias Wren"], per_page=100)))
    lowe = set(ids(search(archive, person=["Caspian Lowe"], per_page=100)))
    assert res.total == len(wren | lowe)
    # and the other facets are counted over that union
    assert sum(v.count for v in res.facets["year"]) + res.undated == res.total


def test_selected_values_always_listed(archive):
    res = search(archive, person=["Nobody Atall"], facet_size=1)
    listed = {v.value: v for v in res.facets["people"]}
    assert listed["Nobody Atall"].selected and listed["Nobody Atall"].count == 0
    assert len(res.facets["people"]) == 2 and res.total == 0


def test_year_histogram_in_order_with_undated_apart(archive, demo_index):
    res = search(archive)
    years = [v.value for v in res.facets["year"]]
    assert years == sorted(years) and len(years) >= 5
    assert res.undated == sum(1 for a in all_articles(demo_index) if a.date is None) >= 3


def test_sort_orders_put_undated_last(archive):
    newest = search(archive, per_page=100, group="none")
    dates = [h.date for h in newest.hits]
    dated = [d for d in dates if d]
    assert dated == sorted(dated, reverse=True)
    assert dates[len(dated):] == [None] * (len(dates) - len(dated))  # undated last
    oldest = search(archive, sort="oldest", per_page=100, group="none")
    odates = [h.date for h in oldest.hits]
    assert [d for d in odates if d] == sorted(dated)
    assert odates[-1] is None
    rel = search(archive, q="ferry", sort="newest", per_page=100)
    rdates = [h.date for h in rel.hits if h.date]
    assert rdates == sorted(rdates, reverse=True)
    assert search(archive).request.effective_sort == "newest"
    assert search(archive, q="ferry").request.effective_sort == "relevance"


@pytest.mark.parametrize("group", ["story", "none"])
def test_paging_is_exact(archive, group):
    all_hits = ids(search(archive, per_page=100, group=group))
    pages = [ids(search(archive, per_page=7, page=p, group=group)) for p in range(1, 10)]
    assert sum(pages, []) == all_hits
    res = search(archive, per_page=7, group=group)
    shown = res.stories if group == "story" else res.total
    assert res.pages == -(-shown // 7) and len(all_hits) == shown


def test_suggestion_for_a_misspelled_name(archive):
    res = search(archive, q="brannok")
    assert res.total == 0 and res.suggestion is not None
    assert res.suggestion.q == "brannock" and "<mark>brannock</mark>" in res.suggestion.html
    assert search(archive, q="brannock").suggestion is None


def test_related_articles_and_lookup(archive):
    related = archive.related("mqc-2022-001")
    assert 0 < len(related) <= 5 and all(r.id != "mqc-2022-001" for r in related)
    assert any("ferry" in r.headline.lower() for r in related)
    with pytest.raises(ArticleNotFound):
        archive.article("no-such-id")


HOSTILE_QUERIES = [
    '"unbalanced', "(ferry", "ferry)", "AND", "OR OR", "NOT", "-", "*", "a*", "?*", "**",
    "ferry AND", '"', "()", "[a TO z]", "date:[2020 to 2021]", "id:mqc-2019-001", "fingerprint:x",
    "people:", ":", "\x00\x01ferry\x7f", "ferry\u202e", "ferry~", "ferry^5", "\\", "'", "%s%n",
    "<script>alert(1)</script>", "x" * 499, " ".join(["ferry"] * 80), "a" * 400 + "*",
    "headline:(", "body:\"", "NOT NOT NOT ferry", "((((((((((ferry))))))))))", "/ferry/",
]


@pytest.mark.parametrize("q", HOSTILE_QUERIES)
def test_hostile_queries_never_fail(archive, q):
    res = search(archive, q=q)
    assert res.total >= 0 and isinstance(res.notes, tuple)


def test_adjustments_are_reported(archive):
    assert any("lone *" in n for n in search(archive, q="*").notes)
    assert any("at least 2 letters" in n for n in search(archive, q="a*").notes)
    assert search(archive, q="*").total == search(archive).total  # browse, newest first


@pytest.mark.parametrize("params, param", [
    ({"page": ["0"]}, "page"), ({"page": ["x"]}, "page"), ({"per_page": ["101"]}, "per_page"),
    ({"per_page": ["0"]}, "per_page"), ({"facet_size": ["1000"]}, "facet_size"),
    ({"year": ["99"]}, "year"), ({"from": ["2020-02-30"]}, "from"), ({"to": ["yesterday"]}, "to"),
    ({"from": ["2020\n"]}, "from"), ({"sort": ["random"]}, "sort"),
    ({"q": ["x" * 501]}, "q"), ({"person": ["p"] * 21}, "person"),
    ({"page": ["5\n"]}, "page"), ({"q": ["a", "b"]}, "q"),
])
def test_invalid_parameters_name_the_parameter(params, param):
    with pytest.raises(ParamError) as info:
        parse_search_params(params)
    assert info.value.param == param and info.value.message


def test_partial_dates_are_inclusive():
    req = parse_search_params({"from": ["2020-02"], "to": ["2021"]})
    assert req.date_from == dt.date(2020, 2, 1) and req.date_to == dt.date(2021, 12, 31)


@pytest.fixture(scope="module")
def hostile_archive(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile") / "ix"
    with Indexer(directory) as indexer:
        indexer.upsert([
            Article(id="x1", headline="<script>alert(1)</script> Harbour news",
                    body="Ferry prices & <b>fees</b> rise; <img src=x onerror=alert(1)> said the "
                         "harbour master. \"Quoted\" 'single' &amp; done.",
                    people=("O'Brien <Evil>",), date=dt.date(2020, 1, 1), section="<i>Local</i>",
                    url="javascript:alert(1)"),
        ])
    arch = Archive(directory)
    yield arch
    arch.close()


def test_highlights_escape_hostile_text(hostile_archive):
    for q in ("harbour", "ferry", "script", ""):
        hit = hostile_archive.search(SearchRequest(q=q)).hits[0]
        for html in (hit.headline_html, hit.snippet_html):
            stripped = html.replace("<mark>", "").replace("</mark>", "")
            assert "<" not in stripped and ">" not in stripped, html
            assert '"' not in stripped
        assert hit.headline_html.startswith("&lt;") and "alert(1)&lt;/" in hit.headline_html
        assert hit.source_url is None  # javascript: is not a link
    hit = hostile_archive.search(SearchRequest(q="harbour")).hits[0]
    assert "<mark>Harbour</mark>" in hit.headline_html
    assert "&amp;amp;" in hit.snippet_html or "&amp;" in hit.snippet_html


def test_warm_builds_the_facet_arrays_before_any_search(demo_index, tmp_path):
    arch = Archive(demo_index)
    try:
        assert arch.engine._facets._data is None
        arch.warm()  # what a web worker does before it takes requests
        built = arch.engine._facets._data
        assert built is not None and built.maxdoc > 0
        arch.search(SearchRequest())
        assert arch.engine._facets._data is built  # the first search used them
    finally:
        arch.close()
    Archive(tmp_path / "nothing-here").warm()  # no index yet: nothing to warm, no error


def test_warm_builds_what_first_searches_would(demo_index):
    """A web worker calls ``warm()`` before its first request: the facet arrays, the word lists
    of "did you mean" and the people look-up keys are built then, not by a visitor's search."""
    arch = Archive(demo_index)
    try:
        arch.warm()
        with arch.engine._searching() as opened:
            facets = arch.engine._facets.get(opened.key, opened.searcher)
        assert facets._words is not None and facets.people._keys is not None
        assert arch.search(parse_search_params({"q": ["lighthuose"]})).suggestion is not None
    finally:
        arch.close()


def test_plain_words_make_the_parsers_query(archive):
    """Queries of words alone skip Whoosh's parser (half a millisecond a query); what they
    make must be exactly what the parser makes of them."""
    from search.query import _plain_words, make_parser

    with archive.engine._searching() as opened:
        schema = opened.searcher.schema
        words = sorted(t for t in opened.searcher.reader().field_terms("body")
                       if t.isalpha())[::7][:300]
    parser = make_parser(schema)
    queries = ["ferry", "Ferry Terminal", "the ferry", "the", "oil 1987", "Café crème",
               "OPEC", "running runs ran", "x", "a b c", "über straße", "don t", "R2D2",
               "near the harbour", "to be or", "ferry and turbine"] + \
        [" ".join(words[i:i + 3]) for i in range(0, len(words), 3)]
    fast = 0
    for text in queries:
        plain = _plain_words(text, schema)
        if plain is None:
            continue
        fast += 1
        assert plain == parser.parse(text).normalize(), text
    assert fast >= len(queries) - 6
    # operators, stop words alone and anything but words go to the parser
    for text in ("ferry and turbine", "the", "to be or", "ferry*", '"ferry"', "u.s"):
        assert _plain_words(text, schema) is None
