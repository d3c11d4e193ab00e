"""The Flask app: ``create_app(config=None)``.

The engine is ``config["NEWS_ENGINE"]``, else ``$NEWS_ENGINE``, else ``whoosh``
(``search.engines``). Whoosh's index directory comes from ``config["NEWS_INDEX"]``, else the
``NEWS_INDEX`` environment variable, else ``./index``; Xapian's shards from
``config["NEWS_SHARDS"]``, else ``$NEWS_SHARDS``. ``PUBLIC_URL`` (else ``$NEWS_PUBLIC_URL``, else
``http://127.0.0.1:8000``) is the address absolute links in feeds and exports start with. ``SEARCH_TIME_LIMIT`` (seconds, default 5) bounds each search;
``EXPORT_CAP`` (default 10,000) is the most rows one export streams. Settings
can also come from ``FLASK_*`` environment variables (``FLASK_SEARCH_TIME_LIMIT=2``).
"""

from __future__ import annotations

import os

from flask import Flask

from search.params import EXPORT_CAP
from search.query import DEFAULT_TIME_LIMIT
from search.service import Archive


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    # a person's name may hold a slash ("/0", "AC/DC"): its URL-encoded "%2F" reaches the
    # router as "/", which would otherwise be merged with the path's own slash and redirected
    app.url_map.merge_slashes = False
    app.config.from_mapping(NEWS_INDEX=os.environ.get("NEWS_INDEX") or "index",
                            NEWS_ENGINE=os.environ.get("NEWS_ENGINE") or "whoosh",
                            NEWS_SHARDS=os.environ.get("NEWS_SHARDS") or "",
                            SEARCH_TIME_LIMIT=DEFAULT_TIME_LIMIT, EXPORT_CAP=EXPORT_CAP,
                            PUBLIC_URL=os.environ.get("NEWS_PUBLIC_URL")
                            or "http://127.0.0.1:8000")
    app.config.from_prefixed_env()
    if config:
        app.config.update(config)
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions["archive"] = Archive(app.config["NEWS_INDEX"],
                                        time_limit=float(app.config["SEARCH_TIME_LIMIT"]),
                                        engine=app.config["NEWS_ENGINE"],
                                        shards=app.config["NEWS_SHARDS"] or None)

    from web import api, more, research, views

    app.register_blueprint(api.bp)
    app.register_blueprint(more.bp)
    app.register_blueprint(research.bp)
    app.register_blueprint(views.bp)
    api.register_error_handlers(app)
    app.after_request(security_headers)
    return app


CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")


# searches and pages may be kept briefly by browsers and caches; exports and errors not at all
CACHEABLE_SECONDS = 60


def security_headers(resp):
    from flask import request

    if "Cache-Control" not in resp.headers and request.endpoint != "static":
        if resp.status_code == 200 and request.method in ("GET", "HEAD") \
                and not request.path.startswith("/api/export"):
            resp.headers["Cache-Control"] = f"public, max-age={CACHEABLE_SECONDS}"
        else:
            resp.headers["Cache-Control"] = "no-store"
    resp.headers.setdefault("Content-Security-Policy", CSP)
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["X-Frame-Options"] = "DENY"
    return resp
