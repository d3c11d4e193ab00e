"""A small made-up archive for the research tools, written here so that its occurrences can be
counted by hand: six articles about a harbour town (KWIC, operators), and sixty generated ones
(forty everyday, ten about rowing in Sport, ten about a bakery in Business) for significant
terms, whose words do not meet the six's."""

from __future__ import annotations

import datetime as dt
import random

from search.engines.whoosh.indexer import Indexer
from search.models import Article

HAND = [
    Article(id="r01", headline="Ferry running late again at Marlow Quay",
            body="The harbour ferry was running late on Monday. Passengers said the ferry runs "
                 "late most weeks. The harbour master blamed the tide.",
            date=dt.date(2021, 3, 4), section="News", people=("Ada Quill",)),
    Article(id="r02", headline="Council delays ferry vote",
            body="The council delayed its vote on the new ferry contract. A harbour official "
                 "said the vote would come in June. Councillor Ada Quill said the ferry "
                 "contract was too costly.",
            date=dt.date(2021, 6, 10), section="News", people=("Ada Quill",)),
    Article(id="r03", headline="Runner wins the coastal run",
            body="Tomas Brenn ran the coastal route in four hours. He runs every morning and "
                 "was running before dawn on race day.",
            date=dt.date(2022, 1, 15), section="Sport", people=("Tomas Brenn",)),
    Article(id="r04", headline="Storm closes the harbour",
            body="A storm closed the harbour for two days. No ferry sailed while the storm "
                 "lasted. The harbour reopened on Sunday.",
            date=dt.date(2022, 7, 1), section="News"),
    Article(id="r05", headline="Mayor Gorbatchova opens the bridge",
            body="Mayor Irina Gorbatchova opened the bridge. Some residents call her "
                 "Gorbachova; the council minutes spell it Gorbatchowa.",
            section="News", people=("Irina Gorbatchova",)),
    Article(id="r06", headline="Ferry timetable for the spring",
            body="The spring timetable adds a late ferry. The harbour company said demand for "
                 "the ferry grew after the storm.",
            date=dt.date(2023, 2, 2), section="Business"),
]
# hand counts: lines of KWIC for these queries over HAND (headline and body)
HAND_KWIC = {
    "ferry": 10,  # r01 3 (headline 1), r02 3 (headline 1), r04 1, r06 3 (headline 1)
    '"ferry contract"': 2,  # r02 twice
    "running": 6,  # stem "run": r01 running x2, runs; r03 run (headline), runs, running
    "exact:running": 3,  # r01 headline and body, r03 body
    "harbour -storm": 3,  # r01 twice, r02 once (r04 and r06 name the storm)
}

EVERYDAY = ("budget", "market", "school", "garden", "library", "museum", "weather", "orchard",
            "lantern", "meadow", "village", "parish", "railway", "bicycle", "concert")


def generated() -> list[Article]:
    rng = random.Random(17)
    out = []
    for i in range(60):
        kind = "everyday" if i < 40 else "rowing" if i < 50 else "bakery"
        words = [rng.choice(EVERYDAY) for _ in range(40)]
        people: tuple[str, ...] = ()
        section = rng.choice(["News", "Culture"])
        if kind == "rowing":
            words[::5] = ["regatta", "rowing", "oarsmen", "regatta", "rowing", "oarsmen",
                          "regatta", "rowing"]
            people, section = ("Petra Skiff",), "Sport"
        elif kind == "bakery":
            words[::6] = ["sourdough", "bakery", "sourdough", "bakery", "sourdough", "bakery",
                          "sourdough"]
            section = "Business"
        out.append(Article(id=f"g{i:02d}", headline=f"Notes from the {words[1]} {i}",
                           body=" ".join(words) + ".", section=section, people=people,
                           date=dt.date(2020 + i % 4, 1 + i % 12, 1 + i % 28)))
    return out


def build(directory) -> None:
    with Indexer(directory, processes=1) as ix:
        ix.upsert(HAND + generated())
