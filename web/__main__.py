"""``python -m web [--host H] [--port P] [--index DIR] [--workers N]``: serve the app with
gunicorn (a production WSGI server) and print the address."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gunicorn.app.base import BaseApplication

from search import store
from search.errors import IndexNotFound


class _Server(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from web import create_app

        return create_app()


def _warm_worker(worker) -> None:
    archive = worker.wsgi.extensions.get("archive") if hasattr(worker.wsgi, "extensions") else None
    if archive is not None:
        archive.warm()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m web", description="Serve the search service.")
    ap.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    ap.add_argument("--index", default=None, help="index folder (default $NEWS_INDEX or ./index)")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args(argv)
    index = args.index or str(store.default_index_dir())
    os.environ["NEWS_INDEX"] = index
    # absolute links in feeds and exports: this address, unless NEWS_PUBLIC_URL says otherwise
    os.environ.setdefault("NEWS_PUBLIC_URL", f"http://{args.host}:{args.port}")
    try:
        # only the count: the facet arrays of a large archive are built by each worker
        ix = store.open_index(Path(index))
        print(f"{ix.doc_count():,} articles in {index}")
        ix.close()
    except IndexNotFound:
        print(f"no index in {index} yet: the page will explain how to ingest")
    print(f"Serving on http://{args.host}:{args.port}/  (JSON API: http://{args.host}:{args.port}"
          "/api/search, Ctrl-C to stop)", flush=True)
    _Server({"bind": f"{args.host}:{args.port}", "workers": args.workers,
             # gevent workers read requests cooperatively: a client that sends its request
             # slowly holds a greenlet, not the worker (gunicorn's sync workers froze every
             # request while two clients trickled their headers in). No keep-alive: each
             # request is accepted anew by whichever worker is free, as with sync workers
             # (kept-alive connections stuck to one busy worker: p95 1 s instead of 64 ms)
             "worker_class": "gevent", "worker_connections": 1000, "keepalive": 0,
             "accesslog": "-", "loglevel": "warning",
             # a worker builds the facet arrays before it accepts requests (seconds at a
             # million articles) instead of on its first search
             "post_worker_init": _warm_worker}).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
