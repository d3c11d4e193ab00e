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
    """Build the facet arrays before the worker accepts requests (seconds at a million
    articles) instead of on its first search."""
    archive = worker.wsgi.extensions.get("archive") if hasattr(worker.wsgi, "extensions") else None
    if archive is not None:
        archive.warm()
