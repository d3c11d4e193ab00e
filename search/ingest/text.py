"""Plain-text articles: one article a file.

Layout: an optional header block of ``Key: value`` lines (Date, People, Section, URL, Byline,
Source, Headline, Id) ended by a blank line; then the headline (first non-empty line) and the body.

Scraped pages often repeat the headline after a standfirst and follow it with a section line
("Life Style"); when the headline comes back within the first lines, the text before it is kept
as the body's first paragraph (the standfirst), the repeat is dropped and a short line right after
it is taken as the section.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from search.errors import RecordError
from search.ingest import Record

HEADER_KEYS = {"date", "people", "persons", "section", "category", "url", "byline", "author",
               "authors", "source", "headline", "title", "id", "published"}
_HEADER_LINE = re.compile(r"^([A-Za-z][A-Za-z _-]{0,20}):\s*(.*)$")
MAX_TEXT_BYTES = 50 * 1024 * 1024
_REPEAT_WINDOW = 6  # non-empty lines after the headline in which a repeat is looked for


def _decode(data: bytes) -> tuple[str, str | None]:
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace"), "not UTF-8; read as Windows-1252"


def parse_text(text: str) -> dict:
    """The fields of one plain-text article."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    fields: dict = {}
    i = 0
    while i < len(lines) and not lines[i].strip():
        i += 1
    # header block: every line up to the first blank one must be "Key: value" with a known key
    j, header = i, {}
    while j < len(lines) and lines[j].strip():
        m = _HEADER_LINE.match(lines[j].strip())
        if not m or m.group(1).strip().lower() not in HEADER_KEYS:
            header = {}
            break
        header[m.group(1).strip().lower()] = m.group(2).strip()
        j += 1
    if header:
        fields.update(header)
        i = j
    rest = lines[i:]
    content = [ln.strip() for ln in rest]
    nonempty = [k for k, ln in enumerate(content) if ln]
    if "headline" not in fields and "title" not in fields and nonempty:
        first = nonempty[0]
        headline = content[first]
        fields["headline"] = headline
        body_start = first + 1
        standfirst: list[str] = []
        for k in nonempty[1:1 + _REPEAT_WINDOW]:
            if content[k].casefold() == headline.casefold():
                standfirst = [content[x] for x in range(first + 1, k)]
                body_start = k + 1
                nxt = [x for x in nonempty if x > k]
                if nxt and nxt[0] == k + 1 and _looks_like_section(content[k + 1]):
                    fields.setdefault("section", content[k + 1])
                    body_start = k + 2
                break
        body_lines = standfirst + [""] + content[body_start:]
    else:
        body_lines = content
    body = "\n".join(body_lines)
    body = re.sub(r"\n{3,}", "\n\n", body).strip()
    fields["body"] = body
    return fields


def _looks_like_section(line: str) -> bool:
    words = line.split()
    return 0 < len(words) <= 3 and len(line) <= 30 and not re.search(r"[.!?,:;\"“”]$", line) \
        and all(w[:1].isupper() or w in {"&", "and"} for w in words)


def read_text(path: Path) -> Iterator[Record | RecordError]:
    origin = str(path)
    if path.stat().st_size > MAX_TEXT_BYTES:
        yield RecordError(origin, "line 1", f"file larger than {MAX_TEXT_BYTES // 2**20} MB")
        return
    text, note = _decode(path.read_bytes())
    fields = parse_text(text)
    if note:
        fields["_warning"] = note
    yield Record(fields, origin, "line 1", "text")
