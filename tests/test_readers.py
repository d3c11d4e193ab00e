"""Each reader on small files written here, and format detection."""

import datetime as dt
import json

import pytest

from search.errors import RecordError, SourceError
from search.ingest import Format, Record, check_paths, detect_format, read_file
from search.ingest.records import ExtractMode, hashed_id, to_prepared
from search.ingest.text import parse_text

from .conftest import corpus_path, write_jsonl

SGML = """<!DOCTYPE lewis SYSTEM "lewis.dtd">
<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="1" NEWID="101">
<DATE> 3-MAR-1987 10:11:12.13</DATE>
<TOPICS><D>fish</D><D>trade</D></TOPICS>
<PLACES><D>nowhere</D></PLACES>
<PEOPLE><D>odile-brannock</D><D>tobias-wren</D></PEOPLE>
<ORGS></ORGS>
<EXCHANGES></EXCHANGES>
<COMPANIES></COMPANIES>
<UNKNOWN> &#5;&#5;&#5;C T
&#22;&#22;&#1;f0001&#31;reute
u f BC-FISH  03-03 0001</UNKNOWN>
<TEXT>&#2;
<TITLE>MARLOW QUAY MACKEREL PRICES FALL</TITLE>
<AUTHOR>    By Hetty Sallow, Courier</AUTHOR>
<DATELINE>    MARLOW QUAY, March 3 - </DATELINE><BODY>Fish prices at &lt;Quay Market Co> fell
sharply, the harbour said &amp; traders agreed.
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
<REUTERS TOPICS="NO" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="2" NEWID="102">
<DATE>4-MAR-1987 01:02:03.04 trailing</DATE>
<TOPICS></TOPICS>
<PEOPLE></PEOPLE>
<TEXT TYPE="BRIEF">&#2;
******<TITLE>FERRY TERMINAL DELAYED
</TITLE>
&#3;

</TEXT>
</REUTERS>
<REUTERS TOPICS="NO" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="3" NEWID="103">
<DATE>5-MAR-1987 01:02:03.04</DATE>
<TOPICS></TOPICS>
<PEOPLE></PEOPLE>
<TEXT TYPE="UNPROC">&#2;
HARBOUR DUES WEEKLY REPORT - MAR 5
    Week ended Mar 4        dues-stg
 Mackerel.............1,234 up....12
 Reuter
&#3;</TEXT>
</REUTERS>
<REUTERS TOPICS="NO" LEWISSPLIT="TRAIN" CGISPLIT="TRAINING-SET" OLDID="4" NEWID="104">
<DATE>6-MAR-1987 01:02:03.04</DATE>
<TOPICS></TOPICS>
<PEOPLE></PEOPLE>
<TEXT TYPE="UNPROC">&#2;
&#3;</TEXT>
</REUTERS>
"""


def records(path, fmt=None):
    return list(read_file(path, fmt or detect_format(path)))


def articles(path, fmt=None):
    out = []
    for item in records(path, fmt):
        if isinstance(item, RecordError):
            out.append(item)
        else:
            try:
                out.append(to_prepared(item, ExtractMode.NEVER).article)
            except RecordError as err:
                out.append(err)
    return out


def test_reuters_sgml(tmp_path):
    path = tmp_path / "reut2-test.sgm"
    path.write_bytes(SGML.encode("latin-1"))
    first, brief, unproc, empty = articles(path)
    assert first.id == "reuters-101"
    assert first.headline == "MARLOW QUAY MACKEREL PRICES FALL"
    assert first.body == "Fish prices at <Quay Market Co> fell\nsharply, the harbour said & traders agreed."
    assert first.people == ("Odile Brannock", "Tobias Wren")
    assert first.section == "fish"
    assert first.date == dt.date(1987, 3, 3)
    assert first.byline == "Hetty Sallow, Courier"
    assert first.source == "Reuters"
    assert brief.headline == "FERRY TERMINAL DELAYED" and brief.body == ""
    assert brief.people == () and brief.date == dt.date(1987, 3, 4)
    # TEXT TYPE="UNPROC" (tables, briefs): the first line is the headline, the rest the body
    assert unproc.headline == "HARBOUR DUES WEEKLY REPORT - MAR 5"
    assert unproc.body == "Week ended Mar 4        dues-stg\n Mackerel.............1,234 up....12"
    assert unproc.date == dt.date(1987, 3, 5) and unproc.id == "reuters-103"
    assert isinstance(empty, RecordError)
    expected_line = SGML[:SGML.index('NEWID="104"')].count("\n") + 1
    assert empty.location == f"line {expected_line}" and "neither headline nor body" in empty.reason


def test_reuters_empty_people_stays_authoritative(tmp_path):
    path = tmp_path / "x.sgm"
    path.write_bytes(SGML.encode("latin-1"))
    item = records(path)[1]
    assert item.fields["people"] == []
    # people given (as none): not extracted; no ORGS or PLACES element: those are
    assert to_prepared(item, ExtractMode.AUTO).extract == ("organizations", "places")
    tagged = to_prepared(records(path)[0], ExtractMode.AUTO)
    assert tagged.extract == () and tagged.article.places == ("Nowhere",)
    assert tagged.article.organizations == ()


def test_jsonl_with_synonyms_and_bad_lines(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text(
        json.dumps({"title": "T1", "content": "B1", "persons": ["Ann Lee"], "pub_date": "2020-01-02",
                    "category": "Arts", "authors": ["X", "Y"], "link": "https://e.example/1"}) + "\n"
        + "{not json\n"
        + "\n"
        + "[1, 2]\n"
        + json.dumps({"text": "only a body", "published": "July 4, 2024"}) + "\n",
        encoding="utf-8")
    a, bad, arr, b = articles(path)
    assert (a.headline, a.body, a.people, a.date, a.section, a.byline, a.url, a.id) == (
        "T1", "B1", ("Ann Lee",), dt.date(2020, 1, 2), "Arts", "X, Y", "https://e.example/1",
        "https://e.example/1")
    assert isinstance(bad, RecordError) and bad.location == "line 2" and "invalid JSON" in bad.reason
    assert isinstance(arr, RecordError) and arr.location == "line 4"
    assert b.headline == "" and b.body == "only a body" and b.date == dt.date(2024, 7, 4)
    assert b.id.startswith("h")


def test_json_array_and_single_object(tmp_path):
    arr = tmp_path / "arr.json"
    arr.write_text(json.dumps([{"id": 1, "headline": "One"}, {"id": "2", "body": "Two"}, "junk"]))
    one, two, junk = articles(arr)
    assert (one.id, one.headline, two.id, two.body) == ("1", "One", "2", "Two")
    assert isinstance(junk, RecordError) and junk.location == "record 3"
    single = tmp_path / "single.json"
    single.write_text(json.dumps({"id": "s", "headline": "Solo", "people": []}, indent=2))
    assert detect_format(single) is Format.JSON
    (solo,) = articles(single)
    assert solo.id == "s" and solo.people == ()


def test_json_named_file_holding_json_lines(tmp_path):
    path = tmp_path / "lines.json"
    write_jsonl(path, [{"id": "a", "headline": "A"}, {"id": "b", "headline": "B"}])
    assert detect_format(path) is Format.JSONL
    assert [a.id for a in articles(path)] == ["a", "b"]


def test_truncated_json_array_reports_where_it_broke(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('[{"id": "a", "headline": "A"}, {"id": "b", "headl')
    good, broken = articles(path)
    assert good.id == "a"
    assert isinstance(broken, RecordError) and broken.location == "record 2"


def test_csv_with_header_synonyms_and_ragged_rows(tmp_path):
    path = tmp_path / "a.csv"
    path.write_text('guid,title,text,published,category\n'
                    'c1,Head one,"Body with, comma\nand a newline",2021-05-06,Sport\n'
                    'c2,Too,many,fields,here,really\n'
                    'c3,Head three,Body three,,\n', encoding="utf-8")
    one, ragged, three = articles(path)
    assert (one.id, one.headline, one.body, one.date, one.section) == (
        "c1", "Head one", "Body with, comma\nand a newline", dt.date(2021, 5, 6), "Sport")
    assert isinstance(ragged, RecordError)
    assert ragged.location == "line 4" and "6 fields" in ragged.reason
    assert three.date is None and three.id == "c3"


def test_text_with_header_block(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Date: 8 October 2023\nPeople: Ann Lee; Bo Kim\nSection: Letters\n"
                    "URL: https://e.example/x\nByline: A Reader\nSource: Courier\n\n"
                    "The headline\n\nFirst paragraph.\n\nSecond paragraph.\n", encoding="utf-8")
    (a,) = articles(path)
    assert (a.headline, a.body, a.people, a.date, a.section, a.url, a.byline, a.source) == (
        "The headline", "First paragraph.\n\nSecond paragraph.", ("Ann Lee", "Bo Kim"),
        dt.date(2023, 10, 8), "Letters", "https://e.example/x", "A Reader", "Courier")


def test_text_without_header_has_no_people_field(tmp_path):
    path = tmp_path / "b.txt"
    path.write_text("Just a headline: with a colon\n\nAnd a body.\n", encoding="utf-8")
    (item,) = records(path)
    assert item.fields == {"headline": "Just a headline: with a colon", "body": "And a body."}
    assert to_prepared(item).extract == ("people", "organizations", "places")


def test_text_that_is_not_utf8_is_read_and_flagged(tmp_path):
    path = tmp_path / "c.txt"
    path.write_bytes("Caf\xe9 reopens\n\nThe caf\xe9 is open.\n".encode("cp1252"))
    (item,) = records(path)
    assert item.fields["headline"] == "Café reopens"
    assert "not UTF-8" in to_prepared(item, ExtractMode.NEVER).warning


def test_scraped_sample_article_is_ingested_sensibly():
    path = corpus_path("samples", "kardashian-blanchard-prison-reform.txt")
    raw = path.read_text(encoding="utf-8")
    fields = parse_text(raw)
    first_line = raw.strip().splitlines()[0].strip()
    assert fields["headline"] == first_line
    # the repeated headline is not part of the body; the section line is the section
    assert first_line not in fields["body"]
    assert fields["section"] == "Life Style"
    assert "Life Style" not in fields["body"].splitlines()
    # the standfirst is kept as the opening paragraph
    standfirst = [ln for ln in raw.splitlines() if ln.strip()][1].strip()
    assert fields["body"].startswith(standfirst)
    assert "date" not in fields and "people" not in fields


def test_ids_are_stable_and_prefer_id_then_url():
    rec = Record({"headline": "H", "body": "B", "url": "https://x.example/a"}, "f", "line 1")
    assert to_prepared(rec).article.id == "https://x.example/a"
    rec = Record({"headline": "H", "body": "B", "url": "u", "id": 7}, "f", "line 1")
    assert to_prepared(rec).article.id == "7"
    # the same article read from two places gets the same id (dates in any form)
    a = Record({"headline": " The Headline ", "body": "Body text", "date": "2020-01-01"}, "f", "1")
    b = Record({"headline": "The Headline", "body": "Body text ", "date": "1 January 2020"}, "g", "9")
    assert to_prepared(a).article.id == to_prepared(b).article.id
    assert hashed_id("x", "", "y") != hashed_id("x", "2020-01-01", "y")


def test_hashed_ids_differ_for_articles_that_differ_anywhere():
    """Two articles sharing a headline and their first 500 characters were one article."""
    opening = "Harbour news. " * 40  # 560 characters
    texts = [opening + "The ferry sails at noon.", opening + "The ferry is cancelled.",
             opening + "The ferry sails at noon.\n\nA second paragraph.",
             opening.upper() + "The ferry sails at noon."]
    ids = {to_prepared(Record({"headline": "Ferry", "body": t}, "f", "1")).article.id
           for t in texts}
    assert len(ids) == len(texts)


@pytest.mark.parametrize("fields, reason", [
    ({"headline": "", "body": "  "}, "neither headline nor body"),
    ({"headline": {"nested": 1}}, "headline must be text"),
    ({"headline": "ok", "people": 5}, "people must be"),
    ({"headline": "x" * 3000}, "headline longer than"),
    ({"headline": "ok", "id": "a\nb"}, "id contains"),
])
def test_bad_records_are_rejected_with_a_reason(fields, reason):
    with pytest.raises(RecordError) as info:
        to_prepared(Record(fields, "file.jsonl", "line 3"))
    assert info.value.location == "line 3" and reason in info.value.reason


def test_unparseable_date_keeps_the_article_undated_with_a_warning():
    prepared = to_prepared(Record({"headline": "h", "date": "sometime soon"}, "f", "line 1"))
    assert prepared.article.date is None
    assert "unparseable date" in prepared.warning


def test_control_characters_are_removed():
    art = to_prepared(Record({"headline": "a\x00b\x07c", "body": "x\ty\nz"}, "f", "1")).article
    assert art.headline == "abc" and art.body == "x\ty\nz"


def test_folder_walk_skips_docs_beside_data_files(tmp_path):
    (tmp_path / "sub").mkdir()
    write_jsonl(tmp_path / "sub" / "a.jsonl", [{"id": "1", "headline": "h"}])
    (tmp_path / "sub" / "README.txt").write_text("About this folder\n\ntext")
    (tmp_path / "notes.md").write_text("# ignored")
    (tmp_path / "letters").mkdir()
    (tmp_path / "letters" / "l.txt").write_text("A letter\n\nbody")
    found = [(p.name, f) for p, f, _ in check_paths([tmp_path], None)]
    assert found == [("l.txt", Format.TEXT), ("a.jsonl", Format.JSONL)]
    with pytest.raises(SourceError):
        check_paths([tmp_path / "missing"], None)
