"""``python -m web [--host H] [--port P] [--index DIR] [--workers N]``: serve the app with
gunicorn (a production WSGI server, with the settings of ``web.gunicorn_conf``) and print the
address."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from gunicorn.app.base import BaseApplication

from search.engines.whoosh import store
from search.errors import IndexNotFound
from web import gunicorn_conf


class _Server(BaseApplication):
    def __init__(self, options: dict):
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if key in self.cfg.settings:  # gunicorn_conf's other names are not settings
                self.cfg.set(key, value)

    def load(self):
        from web import create_app

        return create_app()


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
    _Server({**vars(gunicorn_conf), "bind": f"{args.host}:{args.port}", "workers": args.workers}).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
