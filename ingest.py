#!/usr/bin/env python3
"""Load news articles into the search index, incrementally and idempotently.

    python ingest.py [--index DIR] [--format F] [--rebuild] [--delete ID] [--dry-run]
                     [--rejects FILE] [--json] [--people {auto,always,never}]
                     [--section-from-folder] [--aliases FILE] PATH ...

--aliases FILE makes FILE the archive's aliases (docs/aliases.md): the stored articles' names
are rewritten as it says, and every article ingested later gets them too; with no PATH, that
is all the run does.

--rebuild makes the index hold exactly what the PATHs hold: articles of the index that they
no longer hold are dropped and counted as deleted (--dry-run previews how many).

Formats: JSON Lines, JSON, CSV, plain text, Reuters-21578 SGML, and folders of them.
Exit status: 0 every record accepted; 1 some records rejected (the rest committed);
2 unusable arguments, unreadable paths, a locked or unwritable index.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from search.engines.whoosh import store
from search.aliases import Aliases
from search.engines import ENGINES, EngineConfigError, engine_name, open_indexer, shards_setting
from search.errors import (IndexLocked, IndexOutdated, IndexWriteError, NotSupported, RecordError,
                           SourceError)
from search.engines.whoosh.indexer import DEFAULT_BATCH_SIZE
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
    ap.add_argument("--engine", choices=ENGINES, default=None,
                    help="the engine to write to (default: $NEWS_ENGINE, else whoosh)")
    ap.add_argument("--shards", default=None, metavar="HOST:PORT,...",
                    help="the xapian engine's shards (default: $NEWS_SHARDS; `python -m "
                         "search.cluster start` prints it); each article goes to the shard a "
                         "hash of its id names")
    ap.add_argument("--format", choices=Format.names(), help="read every file in this format")
    ap.add_argument("--rebuild", action="store_true",
                    help="build a fresh index from PATHs alone and swap it in when complete: "
                         "articles the PATHs do not hold are dropped (counted as deleted)")
    ap.add_argument("--delete", action="append", default=[], metavar="ID",
                    help="delete the article with this id (repeat for more ids)")
    ap.add_argument("--dry-run", action="store_true", help="read and check, write nothing")
    ap.add_argument("--rejects", type=Path, metavar="FILE",
                    help="write rejected records here as JSON Lines")
    ap.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    ap.add_argument("--people", choices=ExtractMode.ALL, default=ExtractMode.AUTO,
                    help="extract people from the text: for records without a people field "
                         "(auto, the default), for every record, or never")
    ap.add_argument("--section-from-folder", action="store_true",
                    help="an article without a section takes the name of the folder its file "
                         "is in, below the PATH given (bbc/sport/001.txt: sport)")
    ap.add_argument("--no-stories", dest="stories", action="store_false",
                    help="make a new index (or a --rebuild) that keeps no stories: every article "
                         "a story of its own, and ingest faster; an index that keeps stories "
                         "is not added to with this flag")
    ap.add_argument("--aliases", type=Path, metavar="FILE",
                    help="the archive's aliases (TOML, see docs/aliases.md): merge, rename, "
                         "reject or move names; applied to the stored articles and kept for "
                         "later ingests (an empty file takes every alias back)")
    ap.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE,
                    help=f"articles per commit (default {DEFAULT_BATCH_SIZE})")
    ap.add_argument("--lock-timeout", type=float, default=30.0,
                    help="seconds to wait for another ingest to finish (default 30)")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no warnings")
    return ap


INTERRUPTED = ("ingest: interrupted; batches committed so far are kept. Run the same command "
               "again to finish.")


def main(argv: list[str] | None = None) -> int:
    ap = build_parser()
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.ERROR if args.quiet else logging.WARNING,
                        format="%(message)s", stream=sys.stderr)
    if not args.paths and not args.delete and not args.aliases:
        ap.error("give at least one PATH, or --delete ID, or --aliases FILE")
    if args.rebuild and args.delete:
        ap.error("--rebuild and --delete cannot be combined: a rebuild keeps exactly what the "
                 "PATHs hold (leave the article out of them instead), or run --delete on its own")
    if args.rebuild and not args.paths:
        ap.error("--rebuild needs the PATHs that hold every article to keep")
    if args.batch_size < 1:
        ap.error("--batch-size must be at least 1")
    try:
        engine = engine_name(args.engine)
        shards = shards_setting(args.shards) if engine == "xapian" else None
    except EngineConfigError as exc:
        print(f"ingest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if engine == "xapian" and args.index:
        ap.error("--index names a Whoosh index folder; the xapian engine writes to the shards "
                 "of --shards / NEWS_SHARDS")
    directory = args.index or store.default_index_dir()
    fmt = Format(args.format) if args.format else None
    try:
        files = check_paths(args.paths, fmt)
        aliases = Aliases.read(args.aliases) if args.aliases else None
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

    articles = load_articles(files, mode=args.people, on_reject=on_reject, on_warning=on_warning,
                             section_from_folder=args.section_from_folder)
    progress = None
    if not args.quiet and sys.stderr.isatty():
        from tqdm import tqdm

        articles = tqdm(articles, unit=" articles", file=sys.stderr, leave=False)
    elif not args.quiet:
        progress = Progress(rejects)
        articles = progress.reading(articles)
    try:
        with open_indexer(engine, directory=directory, shards=shards,
                          batch_size=args.batch_size, lock_timeout=args.lock_timeout,
                          rebuild=args.rebuild, dry_run=args.dry_run, stories=args.stories,
                          on_progress=progress.say if progress else None,
                          aliases=aliases) as indexer:
            # (a rebuild applies them to every article it writes)
            renamed = indexer.apply_aliases() if aliases is not None and not args.rebuild \
                else None
            indexer.upsert(articles)
            for missing in indexer.delete(args.delete):
                print(f"warning: --delete {missing}: no such article", file=sys.stderr)
    except (IndexLocked, IndexOutdated, IndexWriteError, SourceError, NotSupported) as exc:
        # (SourceError: the aliases file kept in the index folder, edited there and broken)
        print(f"ingest: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(INTERRUPTED, file=sys.stderr)
        return 130
    finally:
        if rejects_fh:
            rejects_fh.close()
    stats = indexer.stats
    stats.rejected = len(rejects)
    summary = stats.summary()
    if args.rebuild:
        summary["kept"] = summary["added"] + summary["updated"] + summary["unchanged"]
    if renamed is not None:
        summary["aliases_applied"] = renamed
    if args.json:
        print(json.dumps(summary))
    else:
        print(describe(summary, rebuild=args.rebuild, dry_run=args.dry_run,
                       directory=shards if engine == "xapian" else directory))
    return EXIT_REJECTS if rejects else EXIT_OK


def describe(s: dict, *, rebuild: bool, dry_run: bool, directory: Path | str) -> str:
    """The summary line of a run, in words."""
    counts = (f"{s['added']} added, {s['updated']} updated, {s['unchanged']} unchanged, "
              f"{s['rejected']} rejected")
    if rebuild and dry_run:
        return (f"dry run: the rebuild would keep {s['kept']}, drop {s['deleted']} ({counts}); "
                f"nothing was written ({directory})")
    if rebuild:
        return (f"rebuilt with {s['kept']} articles; {s['deleted']} deleted (not in the sources "
                f"given); {counts} in {s['seconds']:.1f}s ({directory})")
    renamed = ""
    if "aliases_applied" in s:
        renamed = (f"aliases {'would change' if dry_run else 'changed'} the names of "
                   f"{s['aliases_applied']} stored article"
                   f"{'s' if s['aliases_applied'] != 1 else ''}; ")
    if dry_run:
        return (f"dry run: {renamed}{s['added']} would be added, {s['updated']} updated, "
                f"{s['unchanged']} unchanged, {s['deleted']} deleted, {s['rejected']} rejected; "
                f"nothing was written ({directory})")
    return (f"{renamed}{s['added']} added, {s['updated']} updated, {s['unchanged']} unchanged, "
            f"{s['deleted']} deleted, {s['rejected']} rejected in {s['seconds']:.1f}s "
            f"({directory})")


class Progress:
    """Progress lines on stderr when it is not a terminal (a log, a pipe, a service): one every
    ``EVERY`` seconds at most, while reading, extracting people and committing."""

    EVERY = 5.0

    def __init__(self, rejects: list):
        self._rejects = rejects
        self._started = time.monotonic()
        self._last = self._started
        self.read = 0

    def reading(self, items):
        for item in items:
            self.read += 1
            yield item
            if time.monotonic() - self._last >= self.EVERY:
                self.say("reading")

    def say(self, what: str) -> None:
        now = time.monotonic()
        if now - self._last < self.EVERY:
            return
        self._last = now
        print(f"ingest: {self.read:,} articles read, {len(self._rejects):,} rejected; {what} "
              f"({now - self._started:.0f}s)", file=sys.stderr, flush=True)


def run() -> int:
    """``main``, ended as it says: an interrupt (Ctrl-C) that comes once its work is done, while
    the interpreter shuts down, would otherwise kill the process with no word (status -2)."""
    import signal

    try:
        code = main()
    except KeyboardInterrupt:  # between the work's end and here
        print(INTERRUPTED, file=sys.stderr)
        code = 130
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    return code


if __name__ == "__main__":
    sys.exit(run())
