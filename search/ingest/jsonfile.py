"""JSON Lines (one object a line) and JSON (an array of objects, or one object) readers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import ijson

from search.errors import RecordError
from search.ingest import Record


def read_jsonl(path: Path) -> Iterator[Record | RecordError]:
    origin = str(path)
    with path.open("rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            where = f"line {lineno}"
            try:
                value = json.loads(raw.decode("utf-8-sig" if lineno == 1 else "utf-8"))
            except UnicodeDecodeError as exc:
                yield RecordError(origin, where, f"not UTF-8 ({exc.reason} at byte {exc.start})")
                continue
            except json.JSONDecodeError as exc:
                yield RecordError(origin, where, f"invalid JSON: {exc.msg} (column {exc.colno})")
                continue
            except RecursionError:
                yield RecordError(origin, where, "invalid JSON: nested too deeply")
                continue
            if not isinstance(value, dict):
                yield RecordError(origin, where, f"expected a JSON object, got {type(value).__name__}")
                continue
            yield Record(value, origin, where, "jsonl")


def read_json(path: Path) -> Iterator[Record | RecordError]:
    """A JSON array of objects is streamed item by item; a single object is one record."""
    origin = str(path)
    with path.open("rb") as fh:
        head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        fh.seek(0)
        if head.startswith(b"\xef\xbb\xbf"):
            fh.read(3)
        prefix = "item" if head.startswith(b"[") else ""
        number = 0
        try:
            for number, value in enumerate(ijson.items(fh, prefix, use_float=True), start=1):
                where = f"record {number}"
                if not isinstance(value, dict):
                    yield RecordError(origin, where,
                                      f"expected a JSON object, got {type(value).__name__}")
                    continue
                yield Record(value, origin, where, "json")
        except (ijson.JSONError, UnicodeDecodeError, RecursionError) as exc:
            # A broken document cannot be resynchronised: report where it broke, keep the rest.
            yield RecordError(origin, f"record {number + 1}", f"invalid JSON: {exc}"[:300])
