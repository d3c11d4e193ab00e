"""What a version of a story changed against its lead: the headline, and the paragraphs added,
removed and edited, an edited one word by word (difflib, from the standard library).

This is how an editor sees what a client did to the wire copy: a new headline, a dateline in
front, the ending cut, a word swapped, a correction added.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

EDITED_AT = 0.5  # paragraphs in the same place sharing this much of their words are edits


@dataclass(frozen=True)
class Piece:
    op: str  # "equal", "insert" (only in the version) or "delete" (only in the lead)
    text: str

    def to_dict(self) -> dict:
        return {"op": self.op, "text": self.text}


@dataclass(frozen=True)
class Edit:
    lead: str
    version: str
    diff: tuple[Piece, ...]

    def to_dict(self) -> dict:
        return {"lead": self.lead, "version": self.version,
                "diff": [p.to_dict() for p in self.diff]}


@dataclass(frozen=True)
class Changes:
    headline_changed: bool
    headline: tuple[Piece, ...]  # the lead's headline to the version's, word by word
    added: tuple[str, ...]
    removed: tuple[str, ...]
    edited: tuple[Edit, ...]
    unchanged: int  # paragraphs the same in both

    @property
    def none(self) -> bool:
        return not (self.headline_changed or self.added or self.removed or self.edited)

    def to_dict(self) -> dict:
        return {"headline": {"changed": self.headline_changed,
                             "diff": [p.to_dict() for p in self.headline]},
                "added": list(self.added), "removed": list(self.removed),
                "edited": [e.to_dict() for e in self.edited], "unchanged": self.unchanged}


def paragraphs(body: str) -> list[str]:
    """A body's paragraphs (blank lines apart; a body without any is one paragraph), each with
    its spaces made single."""
    parts = [" ".join(p.split()) for p in body.split("\n\n")]
    return [p for p in parts if p]


def word_diff(lead: str, version: str) -> tuple[Piece, ...]:
    """``lead`` turned into ``version`` word by word: runs of equal, deleted and inserted
    words (spaces kept with the words before them)."""
    a, b = lead.split(" "), version.split(" ")
    pieces: list[Piece] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            pieces.append(Piece("equal", " ".join(a[i1:i2])))
        else:
            if i2 > i1:
                pieces.append(Piece("delete", " ".join(a[i1:i2])))
            if j2 > j1:
                pieces.append(Piece("insert", " ".join(b[j1:j2])))
    return tuple(pieces)


def _likeness(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a.split(), b.split(), autojunk=False).ratio()


def changes(lead_headline: str, lead_body: str, headline: str, body: str) -> Changes:
    """What the version (``headline``, ``body``) changed against the lead."""
    a, b = paragraphs(lead_body), paragraphs(body)
    added: list[str] = []
    removed: list[str] = []
    edited: list[Edit] = []
    unchanged = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op == "equal":
            unchanged += i2 - i1
            continue
        olds, news = a[i1:i2], b[j1:j2]
        # paragraphs in the same place that share most of their words were edited; the rest
        # were removed or added
        while olds and news:
            if _likeness(olds[0], news[0]) >= EDITED_AT:
                edited.append(Edit(olds[0], news[0], word_diff(olds[0], news[0])))
                olds, news = olds[1:], news[1:]
            elif len(olds) >= len(news):
                removed.append(olds.pop(0))
            else:
                added.append(news.pop(0))
        removed += olds
        added += news
    same_headline = " ".join(lead_headline.split()) == " ".join(headline.split())
    return Changes(not same_headline, word_diff(" ".join(lead_headline.split()),
                                               " ".join(headline.split())),
                   tuple(added), tuple(removed), tuple(edited), unchanged)
