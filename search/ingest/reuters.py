"""Reuters-21578 SGML (``reut2-*.sgm``): latin-1, one ``<REUTERS>`` element per article.

Tolerant of the corpus' quirks: ``&#3;``-style control entities, unescaped ``<Company>`` markup
inside bodies, dates with trailing junk, and elements that are missing or empty. The PEOPLE,
ORGS and PLACES elements are the editors' tagging and are always carried over, empty or not,
their ids as names (``search.people.name_from_id``, ``search.entities``).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path

from search.errors import RecordError
from search.entities import organization_from_id, place_from_id
from search.ingest import Record
from search.people import name_from_id

_ATTR = re.compile(r'(\w+)="([^"]*)"')
_D = re.compile(r"<D>(.*?)</D>", re.S)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SIGNOFF = re.compile(r"\s*\bReuter\s*$", re.I)


def _element(block: str, tag: str) -> str | None:
    m = re.search(rf"<{tag}(?:\s[^>]*)?>(.*?)</{tag}>", block, re.S)
    return m.group(1) if m else None


def _clean(text: str) -> str:
    return _CONTROL.sub("", html.unescape(text)).strip()


def parse_reuters(block: str) -> dict:
    """The fields of one ``<REUTERS ...>...</REUTERS>`` element."""
    start_tag = block[: block.index(">") + 1]
    attrs = dict(_ATTR.findall(start_tag))
    fields: dict = {"source": "Reuters"}
    if attrs.get("NEWID"):
        fields["id"] = f"reuters-{attrs['NEWID']}"
    date = _element(block, "DATE")
    if date is not None:
        fields["date"] = _clean(date)
    topics = _element(block, "TOPICS")
    if topics is not None:
        values = [_clean(v) for v in _D.findall(topics)]
        if values:
            fields["section"] = values[0]
    for tag, field, name in (("PEOPLE", "people", name_from_id),
                             ("ORGS", "organizations", organization_from_id),
                             ("PLACES", "places", place_from_id)):
        element = _element(block, tag)
        if element is not None:
            fields[field] = [name(_clean(v)) for v in _D.findall(element) if _clean(v)]
    title = _element(block, "TITLE")
    fields["headline"] = _clean(title) if title is not None else ""
    body = _element(block, "BODY")
    fields["body"] = _SIGNOFF.sub("", _clean(body)) if body is not None else ""
    if title is None and body is None:
        # <TEXT TYPE="UNPROC">: tables and briefs with the text directly in TEXT; its first
        # line is the headline, the rest the body
        text = _element(block, "TEXT")
        lines = _SIGNOFF.sub("", _clean(text)).split("\n") if text is not None else []
        lines = [ln.rstrip() for ln in lines]
        while lines and not lines[0].strip():
            lines.pop(0)
        if lines:
            fields["headline"] = " ".join(lines[0].split())
            fields["body"] = "\n".join(lines[1:]).strip("\n")
    author = _element(block, "AUTHOR")
    if author is not None:
        fields["byline"] = re.sub(r"^\s*by\s+", "", _clean(author), flags=re.I).rstrip(", ")
    return fields


def read_reuters(path: Path) -> Iterator[Record | RecordError]:
    origin = str(path)
    block: list[str] = []
    start = 0
    with path.open("r", encoding="latin-1", newline="") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not block:
                pos = line.find("<REUTERS")
                if pos < 0:
                    continue
                start = lineno
                line = line[pos:]
            block.append(line)
            if "</REUTERS>" in line:
                text = "".join(block)
                block = []
                try:
                    fields = parse_reuters(text)
                except ValueError as exc:
                    yield RecordError(origin, f"line {start}", f"malformed REUTERS element: {exc}")
                    continue
                yield Record(fields, origin, f"line {start}", "reuters")
    if block:
        yield RecordError(origin, f"line {start}", "REUTERS element not closed before end of file")
