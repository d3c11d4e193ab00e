"""The whole of Reuters-21578 through the real ingest path (needs ../shared/data)."""

import re

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
