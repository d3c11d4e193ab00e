"""Lone names across the archive: a one-word person extraction found ("Ardenne", kept when the
tagger read it as a person often enough in its article: ``search.people.LONE_MENTIONS``) becomes
the full name when the archive knows exactly one person of that surname near the article in
time; otherwise it stays as written. Nothing is guessed: two Ardennes in the window, none, or
an undated article with more than one Ardenne in the whole archive, and it stays "Ardenne".

Used by both engines' indexers for the articles whose people they extracted, after the
article's own mentions are merged (``merge_mentions``: "Ms Ardenne" with "Paula Ardenne" in one
article). The candidates are the archive's stored people (its ``people`` terms, with the dates
of their articles: ``PeopleDays``, read by each engine its own way) and the full names of the
batch being written.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import replace
from typing import Protocol

from search.analysis import exact_key
from search.models import Article
from search.query import date_to_day

# "near in time": a full name with an article this many days either side of the lone name's
WINDOW_DAYS = 90


class PeopleDays(Protocol):
    """What lone names are resolved against, as each engine reads it
    (``search.engines.whoosh.people.PeopleDays``, ``search.engines.xapian.writer.ShardPeople``):
    the archive's people terms, the days of the articles naming one (``None`` for an undated
    one) and the name as an article writes it."""

    def terms(self): ...

    def days(self, term: str) -> list: ...

    def display(self, term: str) -> str: ...


class LoneNames:
    """Resolves lone surnames for one ingest run. The stored people's names are listed once,
    on first need (only their terms: the dates of a name's articles are read when a lone name
    asks for that surname); each batch's full names are added as it is resolved."""

    def __init__(self, archive_people):
        # () -> a context manager giving the archive's people (``PeopleDays``)
        self._archive_people = archive_people
        # the index's: {folded surname: {folded full name: its term}}
        self._terms: dict[str, dict[str, str]] | None = None
        # this run's batches: {folded surname: {folded full name: [name, [days]]}}
        self._batches: dict[str, dict[str, list]] = defaultdict(dict)

    @staticmethod
    def _list_terms(index: PeopleDays) -> dict[str, dict[str, str]]:
        terms: dict[str, dict[str, str]] = defaultdict(dict)
        for term in index.terms():
            words = term.split()
            if len(words) >= 2:
                terms[exact_key(words[-1])][exact_key(term)] = term
        return terms

    def _add(self, articles: list[Article]) -> None:
        for a in articles:
            for name in a.people:
                words = name.split()
                if len(words) < 2:
                    continue
                entry = self._batches[exact_key(words[-1])].setdefault(exact_key(name),
                                                                     [name, []])
                entry[1].append(date_to_day(a.date) if a.date is not None else None)

    def resolve(self, articles: list[Article], extracted: set[str]) -> list[Article]:
        """``articles`` with the lone people names of those in ``extracted`` (ids) resolved."""
        todo = [a.id in extracted and any(" " not in n for n in a.people) for a in articles]
        self._add(articles)
        if not any(todo):
            return articles
        with self._archive_people() as index:
            if self._terms is None:
                self._terms = self._list_terms(index)
            out = []
            for a, resolve in zip(articles, todo):
                if not resolve:
                    out.append(a)
                    continue
                people: list[str] = []
                for name in a.people:
                    if " " not in name:
                        name = self.full_name(name, a.date, index)
                    if exact_key(name) not in {exact_key(p) for p in people}:
                        people.append(name)
                out.append(replace(a, people=tuple(people)))
        return out

    def full_name(self, lone: str, date: dt.date | None, index: PeopleDays) -> str:
        """The one full name of surname ``lone`` with an article within ``WINDOW_DAYS`` of
        ``date`` (undated: anywhere in the archive), else ``lone`` as written."""
        surname = exact_key(lone)
        day = date_to_day(date) if date is not None else None

        def near(days: list) -> bool:
            if day is None:
                return bool(days)
            return any(d is not None and abs(d - day) <= WINDOW_DAYS for d in days)

        found: dict[str, str] = {}
        for key, (name, days) in self._batches.get(surname, {}).items():
            if near(days):
                found[key] = name
        for key, term in (self._terms or {}).get(surname, {}).items():
            if key not in found and near(index.days(term)):
                found[key] = index.display(term)
        return next(iter(found.values())) if len(found) == 1 else lone
