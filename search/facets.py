"""Facet values as both engines show them: a name as the articles write it, selected values
always listed, and the type-ahead lookup of names (``/api/people?prefix=``). Counting is each
engine's (``search.engines.whoosh.facets``: arrays over document numbers; the Xapian engine:
match spies)."""

from __future__ import annotations

import re

from anyascii import anyascii

from search.analysis import exact_key
from search.models import FacetValue


def fold(text: str) -> str:
    """``text`` for accent- and case-insensitive matching: "Zoë O’Brien-Ný" -> "zoe obrien ny"."""
    ascii_text = anyascii(text).casefold().replace("'", "")
    return " ".join(re.sub(r"[^0-9a-z]+", " ", ascii_text).split())


def lookup_entries(values) -> list[tuple[str, tuple[str, ...], int, str]]:
    """What ``lookup_names`` reads of (value as written, articles) pairs: each value folded,
    its folded words, its articles, the value."""
    return [(key, tuple(key.split()), count, shown)
            for shown, count in values for key in (fold(shown),)]


def lookup_names(entries, text: str, limit: int) -> list[tuple[str, int]]:
    """The values of ``entries`` (``lookup_entries``) whose folded form starts with folded
    ``text``, then those in which every word of ``text`` starts a word ("wren" finds "Tobias
    Wren"); most articles first: (value, articles) pairs."""
    key = fold(text)
    if not key:
        return []
    words = key.split()
    found = []
    for full, parts, count, shown in entries:
        if full.startswith(key):
            rank = 0
        elif all(any(p.startswith(w) for p in parts) for w in words):
            rank = 1
        else:
            continue
        found.append((rank, -count, shown))
    found.sort()
    return [(shown, -negative) for _, negative, shown in found[:limit]]


def display_name(stored: str | None, term: str, multi: bool) -> str:
    """The value as the stored field ``stored`` writes it, for its folded ``term`` (``multi``:
    a comma-joined list of names); the term itself when none matches."""
    if stored:
        candidates = stored.split(", ") if multi else [stored]
        for c in candidates:
            if exact_key(c) == exact_key(term):
                return c
    return term


def _with_selected(values: list[FacetValue], selected, count_of) -> tuple[FacetValue, ...]:
    """Selected values are always listed (and marked), even outside the top N or at zero."""
    listed = {exact_key(str(v.value)) for v in values}
    for s in selected:
        if exact_key(s) not in listed:
            display, count = count_of(s)
            values.append(FacetValue(display, count, True))
            listed.add(exact_key(s))
    return tuple(values)
