"""Ground truth by brute force: counts over every stored article, in plain Python."""

from __future__ import annotations

from collections import Counter

from search.engines.whoosh import store
from search.schema import doc_to_article


def all_articles(directory):
    ix = store.open_index(directory)
    try:
        with ix.searcher() as searcher:
            return [doc_to_article(d) for d in searcher.all_stored_fields()]
    finally:
        ix.close()


def keep(a, person=(), section=(), year=(), date_from=None, date_to=None, skip=None):
    people = {p.casefold() for p in a.people}
    if person and skip != "person" and not people & {p.casefold() for p in person}:
        return False
    if section and skip != "section" and a.section.casefold() not in {s.casefold() for s in section}:
        return False
    if year and skip != "year" and (a.date is None or a.date.year not in year):
        return False
    if (date_from or date_to) and a.date is None:
        return False
    if date_from and a.date < date_from:
        return False
    return not (date_to and a.date > date_to)


def facet_counts(articles, **filters):
    """(total, people Counter, section Counter, year Counter, undated) as a search should give."""
    total = sum(1 for a in articles if keep(a, **filters))
    people = Counter(p for a in articles if keep(a, skip="person", **filters) for p in a.people)
    sections = Counter(a.section for a in articles if a.section and keep(a, skip="section", **filters))
    in_year_ctx = [a for a in articles if keep(a, skip="year", **filters)]
    years = Counter(a.date.year for a in in_year_ctx if a.date)
    undated = sum(1 for a in in_year_ctx if a.date is None)
    return total, people, sections, years, undated


def text_matches(articles, pattern: str, fields=("headline", "body")) -> set[str]:
    """Ids of the articles in which the regular expression ``pattern`` (case ignored) is found
    in any of ``fields``: the brute-force count of a word search."""
    import re

    found = re.compile(pattern, re.IGNORECASE)
    return {a.id for a in articles if any(found.search(getattr(a, f) or "") for f in fields)}
