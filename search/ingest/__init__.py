"""Readers: turn input files into ``Record`` s, one module per format; they know nothing of Whoosh.

``read_paths`` walks files and folders, picks a reader per file (by extension, then by content;
``fmt`` overrides) and yields ``Record`` s, or ``RecordError`` s for input that could not be read
as a record. ``search.ingest.records.to_article`` turns a record into an ``Article``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import NamedTuple

from search.errors import RecordError, SourceError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Record:
    """One raw input record: its fields as found, and where it came from."""

    fields: dict
    origin: str  # file path
    location: str  # "line 12", "record 3"
    fmt: str = ""


class Format(str, Enum):
    JSONL = "jsonl"
    JSON = "json"
    CSV = "csv"
    TEXT = "text"
    REUTERS = "reuters"

    @classmethod
    def names(cls) -> list[str]:
        return [f.value for f in cls]


_BY_EXTENSION = {
    ".jsonl": Format.JSONL, ".ndjson": Format.JSONL, ".json": Format.JSON, ".csv": Format.CSV,
    ".tsv": Format.CSV, ".txt": Format.TEXT, ".text": Format.TEXT, ".sgm": Format.REUTERS,
    ".sgml": Format.REUTERS,
}
_STRUCTURED = {Format.JSONL, Format.JSON, Format.CSV, Format.REUTERS}
# files in a folder that document it rather than hold articles (README.TXT beside BBC's text
# articles, PROVENANCE.md, SHA256SUMS ...); named on the command line they are read as given
_DOCUMENTATION = re.compile(
    r"^(readme|read_me|read-me|licen[cs]e|copying|provenance|changelog|changes|notice|authors|"
    r"contributing|install|sha\d*sums|md5sums|checksums|manifest)([._-].*)?$", re.I)


class SourceFile(NamedTuple):
    """A file to read, its format, and the folder it sits in below the path the user gave
    (``""`` for a file named directly or at the top of that path): ``--section-from-folder``
    takes the section from it."""

    path: Path
    fmt: Format
    folder: str = ""


def detect_format(path: Path) -> Format | None:
    """The format of ``path`` by extension, else by its first bytes; ``None`` if unknown."""
    fmt = _BY_EXTENSION.get(path.suffix.lower())
    if fmt is not None and fmt is not Format.JSON:
        return fmt  # the extension decides; only .json and unknown names need a look inside
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    except OSError as exc:
        raise SourceError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if fmt is Format.JSON and head.startswith(b"{"):
        # one object per file, or JSON Lines under a .json name: the first line decides
        first = head.split(b"\n", 1)
        if len(first) == 2 and first[1].strip().startswith(b"{") and first[0].rstrip().endswith(b"}"):
            return Format.JSONL
        return Format.JSON
    if fmt is Format.JSON:
        return fmt
    if head.startswith(b"<!DOCTYPE lewis") or head.startswith(b"<REUTERS"):
        return Format.REUTERS
    if head.startswith(b"["):
        return Format.JSON
    if head.startswith(b"{"):
        return Format.JSONL
    return None


def iter_files(path: Path, fmt: Format | None) -> Iterator[SourceFile]:
    """The files under ``path`` with their formats, in a stable order.

    In a folder, files of unknown type are skipped, and so are documentation files (README,
    LICENSE, PROVENANCE, checksums ...) and plain ``.txt`` files that sit beside structured
    files (SGML, JSON, CSV), such as Reuters-21578's lists of tags. Name them, or pass
    ``--format text``, to ingest them.
    """
    if path.is_file():
        found = fmt or detect_format(path)
        if found is None:
            raise SourceError(f"{path}: unknown format (use --format {{{','.join(Format.names())}}})")
        yield SourceFile(path, found)
        return
    if not path.is_dir():
        raise SourceError(f"{path}: no such file or folder")
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        folder = "" if Path(root) == path else Path(root).name
        chosen: list[SourceFile] = []
        documentation: list[str] = []
        for name in sorted(files):
            if name.startswith("."):
                continue
            file = Path(root) / name
            if _DOCUMENTATION.match(name):
                documentation.append(name)
            elif fmt is not None:
                chosen.append(SourceFile(file, fmt, folder))
            elif file.suffix.lower() in _BY_EXTENSION:
                chosen.append(SourceFile(file, detect_format(file), folder))
        if fmt is None and any(f.fmt in _STRUCTURED for f in chosen):
            documentation += [f.path.name for f in chosen if f.fmt is Format.TEXT]
            chosen = [f for f in chosen if f.fmt is not Format.TEXT]
        if documentation:
            log.warning("skipped in %s (documentation, not articles; name a file to ingest it): "
                        "%s", root, ", ".join(documentation[:8])
                        + (f" and {len(documentation) - 8} more" if len(documentation) > 8 else ""))
        yield from chosen


def check_paths(paths: list[Path], fmt: Format | None) -> list[SourceFile]:
    """Resolve every input path before anything is written; ``SourceError`` if one is unusable
    or holds nothing to ingest."""
    files: list[SourceFile] = []
    for path in paths:
        found = list(iter_files(path, fmt))
        if not found:
            raise SourceError(f"{path}: nothing to ingest here (looked for "
                              f"{', '.join(sorted(_BY_EXTENSION))} files)")
        for source in found:
            if not os.access(source.path, os.R_OK):
                raise SourceError(f"{source.path}: not readable")
        files += found
    return files


def read_file(path: Path, fmt: Format) -> Iterator[Record | RecordError]:
    """Stream the records of one file."""
    from search.ingest import csvfile, jsonfile, reuters, text

    reader = {
        Format.JSONL: jsonfile.read_jsonl, Format.JSON: jsonfile.read_json,
        Format.CSV: csvfile.read_csv, Format.TEXT: text.read_text,
        Format.REUTERS: reuters.read_reuters,
    }[fmt]
    try:
        yield from reader(path)
    except OSError as exc:
        yield RecordError(str(path), "file", f"read failed: {exc.strerror or exc}")
