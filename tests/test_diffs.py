"""Word-level changes of a version against its lead (search.diffs)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from search.diffs import changes, word_diff

words = st.lists(st.sampled_from("the wire said port ferry strike ended on Monday 14 cts".split()),
                 min_size=1, max_size=30).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(words, words)
def test_a_word_diff_gives_back_both_texts(a, b):
    diff = word_diff(a, b)
    assert " ".join(p.text for p in diff if p.op != "insert") == a
    assert " ".join(p.text for p in diff if p.op != "delete") == b


def test_paragraphs_added_removed_and_edited():
    lead = "First paragraph of the wire.\n\nSecond one, about the port.\n\nThird, the ending."
    version = ("LONDON - First paragraph of the wire.\n\nSecond one, about the port.\n\n"
               "Correction: a figure was wrong.")
    found = changes("Port strike ends", lead, "Strike at the port is over", version)
    assert found.headline_changed and found.unchanged == 1
    assert found.removed == ("Third, the ending.",)
    assert found.added == ("Correction: a figure was wrong.",)
    (edit,) = found.edited
    assert edit.lead == "First paragraph of the wire."
    assert [(p.op, p.text) for p in edit.diff] == [("insert", "LONDON -"),
                                                   ("equal", "First paragraph of the wire.")]
    same = changes("A", lead, "A", lead)
    assert same.none and same.unchanged == 3
