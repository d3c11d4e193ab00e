"""The JSON API under ``/api``: search, articles, stats, and its OpenAPI description."""

from __future__ import annotations

import logging
from urllib.parse import quote

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from search.errors import (ArticleNotFound, IndexNotFound, NotSupported, ParamError,
                           SearchTimeout, ShardsUnavailable, StoryNotFound)
from search.models import SearchResult
from search.params import parse_search_params
from search.query import safe_source_url
from search.service import Archive

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api")


class ApiError(Exception):
    """An error answered as ``{"error": {"code", "message", "param"}}`` with ``status``."""

    def __init__(self, status: int, code: str, message: str, param: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.param = status, code, message, param

    def to_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "param": self.param}}


def archive() -> Archive:
    return current_app.extensions["archive"]


def article_path(article_id: str) -> str:
    """The address of an article's page here (ids may hold '/', ':' and the like)."""
    return "/articles/" + quote(article_id, safe="")


def result_to_json(result: SearchResult) -> dict:
    """The one JSON shape of a search; the HTML page renders the same data."""
    req = result.request
    return {
        "query": {**req.to_dict(), "notes": list(result.notes)},
        "total": result.total,
        "stories": result.stories,
        "page": req.page,
        "per_page": req.per_page,
        "pages": result.pages,
        "took_ms": result.took_ms,
        "hits": [{**h.to_dict(), "url": article_path(h.id)} for h in result.hits],
        "facets": {name: [{"value": v.value, "count": v.count, "selected": v.selected}
                          for v in values] for name, values in result.facets.items()},
        "undated": result.undated,
        "suggestion": ({"q": result.suggestion.q, "html": result.suggestion.html}
                       if result.suggestion else None),
        "timed_out": result.timed_out,
        "partial": result.partial,
        "missing_shards": list(result.missing_shards),
    }


def query_params() -> dict[str, list[str]]:
    return {key: request.args.getlist(key) for key in request.args}


@bp.get("/search")
def search():
    try:
        req = parse_search_params(query_params())
    except ParamError as exc:
        raise ApiError(400, exc.code, exc.message, exc.param) from None
    return jsonify(result_to_json(archive().search(req)))


@bp.get("/articles/<path:article_id>")
def article(article_id: str):
    try:
        art = archive().article(article_id)
        related = archive().related(article_id)
        story = archive().story(article_id)
    except ArticleNotFound:
        raise ApiError(404, "not_found", f"no article with id {article_id!r}", "id") from None
    return jsonify({
        "id": art.id, "headline": art.headline, "body": art.body, "people": list(art.people),
        "organizations": list(art.organizations), "places": list(art.places),
        "date": art.date.isoformat() if art.date else None, "section": art.section,
        "byline": art.byline, "source": art.source, "source_url": safe_source_url(art.url),
        "url": article_path(art.id),
        "related": [{**r.to_dict(), "url": article_path(r.id)} for r in related],
        "story": story_to_json(story),
    })


@bp.get("/stories/<path:story_id>")
def story(story_id: str):
    try:
        found, changed = archive().story_changes(story_id)
    except StoryNotFound:
        raise ApiError(404, "not_found", f"no story with id {story_id!r} (a story's id is its "
                       "lead's article id)", "id") from None
    body = story_to_json(found)
    for version in body["versions"]:
        version["changes"] = changed[version["id"]].to_dict()
    return jsonify(body)


def story_to_json(story) -> dict:
    return {"id": story.id, "lead": story.lead,
            "versions": [{**v.to_dict(), "url": article_path(v.id)} for v in story.versions]}


@bp.get("/stats")
def stats():
    return jsonify(archive().stats())


@bp.get("/openapi.json")
def openapi():
    from web.openapi import spec

    return jsonify(spec())


def register_error_handlers(app: Flask) -> None:
    def wants_json() -> bool:
        return request.path == "/api" or request.path.startswith("/api/")

    @app.errorhandler(ApiError)
    def api_error(exc: ApiError):
        return jsonify(exc.to_dict()), exc.status

    @app.errorhandler(SearchTimeout)
    def timeout(exc: SearchTimeout):
        if wants_json():
            return jsonify(ApiError(503, "timeout", str(exc), "q").to_dict()), 503
        return html_error(503, "That search took too long", str(exc))

    @app.errorhandler(NotSupported)
    def not_supported(exc: NotSupported):
        if wants_json():
            return jsonify(ApiError(501, "not_supported", str(exc)).to_dict()), 501
        return html_error(501, "Not available on this engine", str(exc))

    @app.errorhandler(ShardsUnavailable)
    def no_shards(exc: ShardsUnavailable):
        if wants_json():
            return jsonify(ApiError(503, "no_shards", str(exc)).to_dict()), 503
        return html_error(503, "The archive's cluster does not answer", str(exc))

    @app.errorhandler(IndexNotFound)
    def no_index(exc: IndexNotFound):
        body = ApiError(503, "no_index", f"{exc}. Nothing has been ingested yet.").to_dict()
        return jsonify(body), 503

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        # the exception's own headers (a 405's Allow) go with the answer
        headers = [(k, v) for k, v in exc.get_headers() if k.lower() != "content-type"]
        if not wants_json():
            body, status = html_error(exc.code, exc.name, exc.description or "")
            return body, status, headers
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.code, "http_error")
        body = ApiError(exc.code, code, exc.description or exc.name).to_dict()
        return jsonify(body), exc.code, headers

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unexpected error on %s", request.path)
        if wants_json():
            body = ApiError(500, "internal_error", "the server failed to answer; it was logged").to_dict()
            return jsonify(body), 500
        return html_error(500, "Something went wrong",
                          "The server could not answer this request. It has been logged.")

    def html_error(status: int, title: str, message: str):
        from flask import render_template

        return render_template("error.html", status=status, title=title, message=message), status
