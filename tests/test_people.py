import pytest

from search.people import (canonical_name, extract_people, merge_mentions, name_from_id,
                           split_people)

from .conftest import corpus_path


def test_name_from_reuters_id():
    assert name_from_id("james-baker") == "James Baker"
    assert name_from_id("de-larosiere") == "De Larosiere"


def test_canonical_name_keeps_accents_and_fixes_capitals():
    assert canonical_name("  Khloé   Kardashian ") == "Khloé Kardashian"
    assert canonical_name("ALAN SHEARER") == "Alan Shearer"
    assert canonical_name("Inès Moreau-Laurent") == "Inès Moreau-Laurent"


def test_split_people_accepts_lists_and_separated_strings():
    assert split_people(["Ann Lee", "ann lee", " Bo Kim "]) == ("Ann Lee", "Bo Kim")
    assert split_people("Ann Lee; Bo Kim") == ("Ann Lee", "Bo Kim")
    assert split_people("Ann Lee, Bo Kim") == ("Ann Lee", "Bo Kim")
    assert split_people([]) == ()
    assert split_people(None) is None
    with pytest.raises(ValueError):
        split_people(42)


def test_short_mentions_merge_into_the_full_name():
    merged = merge_mentions(["Kim Kardashian", "Kim", "Ms Kardashian", "Kardashian", "Kim K",
                             "Khloé Kardashian", "Gypsy Rose Blanchard", "Gypsy",
                             "Gypsy Rose Blanchard Collaborate", "Gypsy Rose Blanchard"])
    assert merged == ["Kim Kardashian", "Khloé Kardashian", "Gypsy Rose Blanchard"]


def test_initial_form_merges_and_lone_names_can_be_dropped():
    assert merge_mentions(["Paul Johnson", "P. Johnson", "Johnson"]) == ["Paul Johnson"]
    assert merge_mentions(["Miller"], keep_lone_names=False) == []
    assert merge_mentions(["Miller"]) == ["Miller"]


def test_extracts_persons_not_companies_or_places():
    people = extract_people(
        "Harbour council backs ferry plan",
        "The town's mayor, Helen Brannock, said on Tuesday that the builders Cobble & Daughters "
        "Ltd would start work on the terminal in Marlow Quay next spring. Brannock was supported "
        "by her deputy, Tobias Wren. \"It is a good day for the town,\" Wren said.")
    assert people == ["Helen Brannock", "Tobias Wren"]


def test_people_of_the_sample_article():
    """The raw scraped article: persons merged and canonical, shows and companies left out."""
    path = corpus_path("samples", "kardashian-blanchard-prison-reform.txt")
    from search.ingest.text import parse_text

    fields = parse_text(path.read_text(encoding="utf-8"))
    people = extract_people(fields["headline"], fields["body"])
    for expected in ["Kim Kardashian", "Gypsy Rose Blanchard", "Kris Jenner", "Khloé Kardashian",
                     "Kendall Jenner", "Dee Dee Blanchard", "Nick Godejohn"]:
        assert expected in people
    assert people[0] == "Kim Kardashian"
    lowered = {p.lower() for p in people}
    for not_a_person in ["kim", "gypsy", "kim k", "godejohn", "skims", "the kardashians",
                         "kardashians", "e! news", "time100 summit",
                         "gypsy rose blanchard collaborate"]:
        assert not_a_person not in lowered
