"""The whole of Reuters-21578 through the real ingest path (needs ../shared/data)."""

import re
from collections import Counter

import pytest

from search.people import name_from_id

from .conftest import run_ingest, summary_of
from .test_ingest_cli import stored_articles

pytestmark = [pytest.mark.corpus, pytest.mark.slow]


def expected_from_sgml(folder):
    """An independent, blunt reading of the SGML: NEWID -> PEOPLE ids, for articles that have a
    TITLE or a BODY element with text, or text directly in TEXT (TYPE="UNPROC")."""
    expected = {}
    for path in sorted(folder.glob("reut2-*.sgm")):
        text = path.read_text(encoding="latin-1")
        for block in re.findall(r"<REUTERS.*?</REUTERS>", text, re.S):
            newid = re.search(r'NEWID="(\d+)"', block).group(1)
            title = re.search(r"<TITLE>(.*?)</TITLE>", block, re.S)
            body = re.search(r"<BODY>(.*?)</BODY>", block, re.S)
            unproc = re.search(r'<TEXT TYPE="UNPROC">(.*?)</TEXT>', block, re.S)
            has_text = any(m and re.sub(r"&#\d+;|\s|Reuter", "", m.group(1))
                           for m in (title, body, unproc))
            if has_text:
                people = re.search(r"<PEOPLE>(.*?)</PEOPLE>", block, re.S).group(1)
                expected[f"reuters-{newid}"] = re.findall(r"<D>(.*?)</D>", people)
    return expected


@pytest.fixture(scope="module")
def reuters(reuters_ingest):
    return reuters_ingest


def test_article_count_equals_records_with_title_or_body(reuters):
    folder, index, first = reuters
    assert first.returncode == 1  # the records with neither are reported as rejected
    summary = summary_of(first)
    expected = expected_from_sgml(folder)
    assert summary["added"] == len(expected)
    assert summary["added"] + summary["rejected"] == 21578
    assert summary["added"] == 21577  # every record with text; only the empty one is rejected
    assert set(stored_articles(index)) == set(expected)


def test_rerun_is_all_unchanged(reuters):
    folder, index, first = reuters
    again = summary_of(run_ingest("--index", index, "--json", folder))
    assert again["unchanged"] == summary_of(first)["added"]
    assert again["added"] == again["updated"] == 0


def test_people_match_the_people_tags(reuters):
    folder, index, _ = reuters
    expected = expected_from_sgml(folder)
    stored = stored_articles(index)
    mismatches = [i for i, tags in expected.items()
                  if list(stored[i].people) != [name_from_id(t) for t in tags]]
    assert not mismatches, mismatches[:10]
    assert stored["reuters-1"].date.isoformat() == "1987-02-26"
    tagged = sum(1 for tags in expected.values() if tags)
    assert tagged > 1000  # sanity: the comparison above covered many tagged articles


def tags_from_sgml(folder, tag: str) -> dict[str, list[str]]:
    """NEWID -> the ids in ``tag`` (ORGS, PLACES) of each article with text, read bluntly."""
    found = {}
    for path in sorted(folder.glob("reut2-*.sgm")):
        for block in re.findall(r"<REUTERS.*?</REUTERS>",
                                path.read_text(encoding="latin-1"), re.S):
            newid = re.search(r'NEWID="(\d+)"', block).group(1)
            element = re.search(rf"<{tag}>(.*?)</{tag}>", block, re.S)
            found[f"reuters-{newid}"] = re.findall(r"<D>(.*?)</D>", element.group(1)) \
                if element else []
    return found


def test_orgs_and_places_are_names_and_their_facets_count_the_tags(reuters):
    """Reuters' ORGS and PLACES tags as organisations and places: every article's names are
    its tags' names, and the facets' counts over the whole archive (and within a filter)
    equal a plain count of the tags."""
    from search.entities import organization_from_id, place_from_id
    from search.models import SearchRequest
    from search.service import Archive

    folder, index, _ = reuters
    stored = stored_articles(index)
    archive = Archive(index)
    try:
        for tag, kind, name in (("ORGS", "organizations", organization_from_id),
                                ("PLACES", "places", place_from_id)):
            tags = {i: t for i, t in tags_from_sgml(folder, tag).items() if i in stored}
            # (a tag given twice, as "uk" in reuters-759, is one name)
            names = {i: list(dict.fromkeys(name(t) for t in ts)) for i, ts in tags.items()}
            wrong = [i for i, ns in names.items() if list(getattr(stored[i], kind)) != ns]
            assert not wrong, wrong[:5]
            counts = Counter(n for ns in names.values() for n in set(ns))
            result = archive.search(SearchRequest(facet_size=100, group="none"))
            got = {v.value: v.count for v in result.facets[kind]}
            top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:100]
            assert list(got.items()) == top
            # within a filter of the other kind: still a plain count
            if kind == "places":
                chosen = "OPEC"
                keep = [i for i, a in stored.items() if chosen in a.organizations]
                result = archive.search(SearchRequest(organization=(chosen,), facet_size=100,
                                                      group="none"))
                assert result.total == len(keep) > 50
                within = Counter(n for i in keep for n in set(names[i]))
                assert {v.value: v.count for v in result.facets[kind]} == dict(
                    sorted(within.items(), key=lambda item: (-item[1], item[0]))[:100])
        assert len({n for a in stored.values() for n in a.places}) > 140  # of 175 tags
    finally:
        archive.close()
