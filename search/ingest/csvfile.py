"""CSV (or TSV) with a header row; one record a row.

The delimiter is read off the header line (comma, semicolon, tab or bar, whichever it has most
of outside quotes; tab for ``.tsv``). A header naming no headline or body column rejects the
file once, naming its columns and the ones expected, instead of rejecting every row.
Lines that are not valid UTF-8 are read as Windows-1252 (with a warning on the records they
belong to) rather than abandoning the rest of the file.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from search.errors import RecordError
from search.ingest import Record

# News bodies are long; the csv module's default limit is 128 KiB per field.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


class _Lines:
    """Decoded lines of a binary file; remembers which ones were not UTF-8."""

    def __init__(self, fh):
        self._fh = fh
        self.lineno = 0
        self.fallback: set[int] = set()

    def __iter__(self):
        return self

    def __next__(self) -> str:
        raw = self._fh.readline()
        if not raw:
            raise StopIteration
        self.lineno += 1
        if self.lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self.fallback.add(self.lineno)
            return raw.decode("cp1252", errors="replace")


_DELIMITERS = (",", ";", "\t", "|")


def sniff_delimiter(header_line: str) -> str:
    """The delimiter a header line uses: the candidate found most often outside quotes."""
    outside = "".join(part for i, part in enumerate(header_line.split('"')) if i % 2 == 0)
    counts = {d: outside.count(d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # ties: the earlier, comma first
    return best if counts[best] else ","


def _header_problem(header: list[str]) -> str | None:
    from search.ingest.records import SYNONYMS, canonical_fields

    fields, _ = canonical_fields({name: "x" for name in header})
    if "headline" in fields or "body" in fields:
        return None
    expected = ", ".join(SYNONYMS["headline"] + SYNONYMS["body"])
    shown = ", ".join(repr(h) for h in header[:12]) + (" ..." if len(header) > 12 else "")
    return (f"the header row ({shown}) names no headline or body column; expected one of: "
            f"{expected} (any case); nothing in this file was read")


def read_csv(path: Path) -> Iterator[Record | RecordError]:
    origin = str(path)
    with path.open("rb") as fh:
        first = fh.readline().decode("utf-8-sig", errors="replace")
        fh.seek(0)
        delimiter = "\t" if path.suffix.lower() == ".tsv" else sniff_delimiter(first)
        lines = _Lines(fh)
        reader = csv.reader(lines, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield RecordError(origin, "line 1", f"unreadable header: {exc}")
            return
        header = [h.strip() for h in header]
        problem = _header_problem(header)
        if problem:
            yield RecordError(origin, "line 1", problem)
            return
        start = lines.lineno + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RecordError(origin, f"line {start}", f"bad CSV: {exc}")
                start = lines.lineno + 1
                continue
            where = f"line {start}"
            first, start = start, lines.lineno + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield RecordError(origin, where,
                                  f"row has {len(row)} fields, the header has {len(header)}")
                continue
            fields = dict(zip(header, row))
            if any(first <= n < start for n in lines.fallback):
                fields["_warning"] = "not UTF-8; read as Windows-1252"
            yield Record(fields, origin, where, "csv")
