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


@pytest.mark.parametrize("name,text,kind", [
    ("Manchester United", "Manchester United won again.", "organizations"),
    ("Lib Dems", "The Lib Dems said so.", "organizations"),
    ("the Lib Dems", "Voters left the Lib Dems.", "organizations"),
    ("Lib Dem", "Lib Dem leader Charles Kennedy spoke.", "organizations"),
    ("Harry Potter", "The new Harry Potter film opens; Harry Potter fans queued.", None),
    ("Black Sabbath", "Black Sabbath guitarist Tony Iommi played.", "organizations"),
    ("Franz Ferdinand", "The band Franz Ferdinand won. Franz Ferdinand fans cheered.",
     "organizations"),
    ("Yukos", "Yukos shares fell. Yukos said so. The firm Yukos denied it.", "organizations"),
    ("Oscar", "Her third Oscar nomination. The Oscar went to Foxx. Oscar said nothing.", None),
    ("Ray Charles", "The film Ray won; Ray Charles said. Ray Charles sang.", "people"),
    ("Sally Capp's Mayorship", "During Sally Capp's Mayorship the city grew.", None),
    ("Kanye West", "Kanye West released an album. Kanye West said it sold well.", "people"),
    ("Tony Iommi", "Black Sabbath guitarist Tony Iommi played.", "people"),
])
def test_clubs_parties_works_and_phrases_are_not_people(name, text, kind):
    from search.people import person_kind

    assert person_kind(name, text) == kind


def test_extraction_moves_clubs_to_organisations_and_keeps_people():
    from search.people import extract_entities_many

    (found,) = extract_entities_many([(
        "United hold on", "Manchester United beat the league leaders on Saturday. Manager "
        "Alex Ferguson said Manchester United had defended well, and the Lib Dems welcomed it.")])
    assert "Alex Ferguson" in found["people"]
    assert "Manchester United" not in found["people"]
    assert "Manchester United" in found["organizations"]


def test_clubs_named_by_their_towns_in_sports_copy_are_organisations():
    from search.people import extract_entities_many, sports_teams

    body = ("Leicestershire beat Somerset by an innings.\nSomerset 83 and 174 (P. Simmons "
            "4-38), Leicestershire 296.\nTunbridge Wells: Nottinghamshire 214, Kent 108-3.\n"
            "May 13 v Durham (at Chester-le-Street)")
    teams = sports_teams("CRICKET - LEICESTERSHIRE TAKE OVER AT TOP", body, ["P. Simmons"])
    assert set(teams) == {"Leicestershire", "Somerset", "Nottinghamshire", "Kent", "Durham"}
    # not in an article that is not about sport, and never its people or countries
    assert sports_teams("Budget vote delayed", body, []) == []
    assert "England" not in sports_teams("SOCCER - ENGLAND WIN", "England 3 Moldova 0", [])
    (found,) = extract_entities_many([("CRICKET - LEICESTERSHIRE TAKE OVER AT TOP", body)])
    assert {"Somerset", "Kent"} <= set(found["organizations"])
    assert not {"Somerset", "Kent"} & set(found["places"] + found["people"])
