#!/usr/bin/env python3
"""Load news articles into the search index, incrementally and idempotently.

    python ingest.py [--index DIR] [--format F] [--rebuild] [--delete ID ...] [--dry-run]
                     [--rejects FILE] [--json] [--people {auto,always,never}] PATH ...

Formats: JSON Lines, JSON, CSV, plain text, Reuters-21578 SGML, and folders of them.
Exit status: 0 every record accepted; 1 some records rejected (the rest committed);
2 unusable arguments, unreadable paths, a locked or unwritable index.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from search import store
from search.errors import IndexLocked, IndexWriteError, RecordError, SourceError
from search.indexer import DEFAULT_BATCH_SIZE, Indexer
from search.ingest import Format, check_paths
from search.ingest.records import ExtractMode, load_articles

log = logging.getLogger("ingest")

EXIT_OK, EXIT_REJECTS, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="ingest.py", description="Load news articles into the search index.",
        epilog="Exit status: 0 all accepted, 1 some records rejected, 2 unusable arguments/paths.")
    ap.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders")
    ap.add_argument("--index", type=Path, default=None,
                    help="index folder (default: $NEWS_INDEX, else ./index)")
    ap.add_argument("--format", choices=Format.names(), help="read every file in this format")
    ap.add_argument("--rebuild", action="store_true",
                    help="build a fresh index and swap it in only when complete")
    ap.add_argument("--delete", nargs="+", default=[], metavar="ID", help="delete articles by id")
    ap.add_argument("--dry-run", action="store_true", help="read and check, write nothing")
    ap.add_argument("--rejects", type=Path, metavar="FILE",
                    help="write rejected records here as JSON Lines")
    ap.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    ap.add_argument("--people", choices=ExtractMode.ALL, default=ExtractMode.AUTO,
                    help="extract people from the text: for records without a people field "
                         "(auto, the default), for every record, or never")
    ap.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                    help=f"articles per commit (default {DEFAULT_BATCH_SIZE})")
    ap.add_argument("--lock-timeout", type=float, default=30.0,
                    help="seconds to wait for another ingest to finish (default 30)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no warnings")
    return ap


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING,
                        format="%(message)s", stream=sys.stderr)
    if not args.paths and not args.delete:
        ap.error("give at least one PATH, or --delete ID")
    if args.batch_size < 1:
        ap.error("--batch-size must be at least 1")
    directory = args.index or store.default_index_dir()
    fmt = Format(args.format) if args.format else None
    try:
        files = check_paths(args.paths, fmt)
    except SourceError as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return EXIT_USAGE

    rejects: list[RecordError] = []
    rejects_fh = None
    if args.rejects:
        try:
            rejects_fh = args.rejects.open("w", encoding="utf-8")
        except OSError as exc:
            print(f"ingest: cannot write {args.rejects}: {exc.strerror}", file=sys.stderr)
            return EXIT_USAGE

    def on_reject(err: RecordError) -> None:
        rejects.append(err)
        print(f"rejected {err.origin}:{err.location}: {err.reason}", file=sys.stderr)
        if rejects_fh:
            rejects_fh.write(json.dumps(err.to_dict(), ensure_ascii=False) + "\n")

    def on_warning(message: str) -> None:
        if not args.quiet:
            print(f"warning {message}", file=sys.stderr)

    articles = load_articles(files, mode=args.people, on_reject=on_reject, on_warning=on_warning)
    if sys.stderr.isatty() and not args.quiet:
        from tqdm import tqdm

        articles = tqdm(articles, unit=" articles", file=sys.stderr, leave=False)
    try:
        with Indexer(directory, batch_size=args.batch_size, lock_timeout=args.lock_timeout,
                     rebuild=args.rebuild, dry_run=args.dry_run) as indexer:
            indexer.upsert(articles)
            for missing in indexer.delete(args.delete):
                print(f"warning: --delete {missing}: no such article", file=sys.stderr)
    except (IndexLocked, IndexWriteError) as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ingest: interrupted; batches committed so far are kept. Run the same command again "
              "to finish.", file=sys.stderr)
        return 130
    finally:
        if rejects_fh:
            rejects_fh.close()
    stats = indexer.stats
    stats.rejected = len(rejects)
    summary = stats.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        verb = "would be" if args.dry_run else ""
        print(f"{'dry run: ' if args.dry_run else ''}{summary['added']} added, "
              f"{summary['updated']} updated, {summary['unchanged']} unchanged, "
              f"{summary['deleted']} deleted, {summary['rejected']} rejected {verb}"
              f"in {summary['seconds']:.1f}s ({directory})".replace("  ", " "))
    return EXIT_REJECTS if rejects else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
