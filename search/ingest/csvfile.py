"""CSV (or TSV) with a header row; one record a row."""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterator
from pathlib import Path

from search.errors import RecordError
from search.ingest import Record

# News bodies are long; the csv module's default limit is 128 KiB per field.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def read_csv(path: Path) -> Iterator[Record | RecordError]:
    origin = str(path)
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with path.open("r", encoding="utf-8-sig", errors="strict", newline="") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        try:
            header = next(reader)
        except StopIteration:
            return
        except (csv.Error, UnicodeDecodeError) as exc:
            yield RecordError(origin, "line 1", f"unreadable header: {exc}")
            return
        header = [h.strip() for h in header]
        start = reader.line_num + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                yield RecordError(origin, f"line {start}", f"not UTF-8 ({exc.reason}); file abandoned")
                return
            except csv.Error as exc:
                yield RecordError(origin, f"line {start}", f"bad CSV: {exc}")
                start = reader.line_num + 1
                continue
            where = f"line {start}"
            start = reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                yield RecordError(origin, where,
                                  f"row has {len(row)} fields, the header has {len(header)}")
                continue
            yield Record(dict(zip(header, row)), origin, where, "csv")
