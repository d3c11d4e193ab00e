"""gunicorn settings for this app, used by ``python -m web`` and by hand:

    gunicorn -c python:web.gunicorn_conf --bind 127.0.0.1:8000 'web:create_app()'
"""

# gunicorn's largest request line (its MAX_REQUEST_LINE): the longest query string that can be
# served. Every parameter fits at its own limit: a 500-character q takes at most 6,000 bytes
# percent-encoded (4-byte UTF-8 characters, 12 bytes each), leaving room for the rest. The
# OpenAPI document states these limits too (web.openapi), without importing gevent.
LIMIT_REQUEST_LINE = 8190
LIMIT_REQUEST_FIELDS = 100
LIMIT_REQUEST_FIELD_SIZE = 8190

workers = 2
# gevent workers read requests cooperatively: a client that sends its request slowly holds a
# greenlet, not the worker (gunicorn's sync workers froze every request while two clients
# trickled their headers in). This subclass also answers gunicorn's own errors (414, 431,
# malformed HTTP) in the API's JSON error shape.
worker_class = "web.serving.JsonErrorWorker"
worker_connections = 1000
# No keep-alive: each request is accepted anew by whichever worker is free, as with sync
# workers (kept-alive connections stuck to one busy worker: p95 1 s instead of 64 ms).
keepalive = 0
limit_request_line = LIMIT_REQUEST_LINE
limit_request_fields = LIMIT_REQUEST_FIELDS
limit_request_field_size = LIMIT_REQUEST_FIELD_SIZE
accesslog = "-"
loglevel = "warning"


def post_worker_init(worker) -> None:
    """Before the worker accepts requests: build the facet arrays (seconds at a million
    articles), then answer a results page and an API search of its own, so that no visitor's
    request is the first through the templates, the parser and the ranking code of this
    process (at 1,000,000 articles the first request of a fresh worker took 204-284 ms
    without this, the next ones about 60)."""
    app = worker.wsgi
    archive = app.extensions.get("archive") if hasattr(app, "extensions") else None
    if archive is None:
        return
    archive.warm()
    warm_requests(app)


# a word of news in most archives; any word exercises the same code paths
WARM_PATHS = ("/api/search?q=report", "/?q=report")


def warm_requests(app) -> None:
    import logging

    client = app.test_client()
    for path in WARM_PATHS:
        try:
            client.get(path)
        except Exception:  # noqa: BLE001 - a warm-up failure must not stop the worker
            logging.getLogger(__name__).warning("warm-up request %s failed", path,
                                                exc_info=True)
