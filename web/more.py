"""Feeds, exports and people: the Atom feed of a search, the full result set as CSV or JSON
Lines, people who appear together, and people look-up.

Each is one call into ``search.service.Archive`` shared by the page and the JSON endpoints:
- ``/feed.atom`` takes the page's parameters and lists the newest dated articles first;
- ``/api/export.csv`` and ``/api/export.jsonl`` stream every article a search selects, in its
  order, up to ``EXPORT_CAP`` rows (headers ``X-Total-Count``, ``X-Export-Rows``,
  ``X-Export-Truncated``);
- ``/api/people?prefix=`` looks people up by the start of their name or of any word in it
  (``/api/organizations?prefix=`` and ``/api/places?prefix=`` the same for their kinds);
- ``/api/people/<name>/cooccurrence`` counts the people named in the same articles, within a
  search when search parameters are given.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re
import threading
import time
from collections.abc import Iterator
from urllib.parse import quote, urlencode

import feedgenerator
from flask import Blueprint, Response, current_app, jsonify, request

from search.errors import EntityNotFound, ParamError, PersonNotFound
from search.models import ENTITY_KINDS, Article, SearchRequest
from search.params import (has_search_params, parse_lookup_params, parse_search_params,
                           parse_size)
from search.query import safe_source_url
from web.openapi import _EXPORT_FIELDS
from web.api import ApiError, archive, article_path, query_params

bp = Blueprint("more", __name__)

FEED_ENTRIES = 20  # entries in a feed unless per_page says otherwise
SITE_NAME = "News archive search"
EXPORT_FIELDS = _EXPORT_FIELDS
# OWASP's CSV injection list: a cell starting with one of these is run as a formula
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# what XML 1.0 cannot carry (control characters, lone surrogates, U+FFFE and U+FFFF)
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry."""
    return _NOT_XML.sub("", text)


def public_root() -> str:
    """The configured public address of the service (``PUBLIC_URL``): absolute links in feeds
    and exports come from it, never from the request's Host header, which a client chooses."""
    return str(current_app.config["PUBLIC_URL"]).rstrip("/")


def _request_from(params: dict[str, list[str]], **overrides) -> SearchRequest:
    try:
        req = parse_search_params(params)
    except ParamError as exc:
        raise ApiError(400, exc.code, exc.message, exc.param) from None
    return dataclasses.replace(req, **overrides)


def search_params_only(params: dict[str, list[str]], *drop: str) -> list[tuple[str, str]]:
    """The (name, value) pairs of ``params`` that describe a search, less ``drop``."""
    keep = ("q", "person", "person_match", "organization", "place", "section", "year", "from",
            "to", "sort", "per_page")
    return [(k, v) for k in keep if k not in drop for v in params.get(k, []) if v != ""]


def describe(req: SearchRequest) -> str:
    """A short human title for a search: its words and filters."""
    parts = [f"“{req.q}”"] if req.q.strip() else []
    parts += [*req.person, *req.organization, *req.place] + [f"section {s}" for s in req.section]
    parts += [str(y) for y in req.year]
    if req.date_from or req.date_to:
        parts.append(f"{req.date_from or '…'} to {req.date_to or '…'}")
    return ", ".join(parts) if parts else "all articles"


# -- Atom feed -------------------------------------------------------------------------------

@bp.get("/feed.atom")
def feed():
    params = query_params()
    per_page = FEED_ENTRIES if not params.get("per_page") else None
    req = _request_from(params, sort="newest", page=1,
                        **({"per_page": per_page} if per_page else {}))
    result = archive().search(req)
    root = public_root()
    page_url = root + "/?" + urlencode(search_params_only(params, "sort", "per_page"))
    feed_url = root + request.full_path.rstrip("?")
    title = xml_text(describe(req))
    atom = feedgenerator.Atom1Feed(
        title=f"{SITE_NAME}: {title}", link=page_url,
        description=f"The newest articles of the archive for {title}.",
        feed_url=feed_url, feed_guid=feed_url, author_name=SITE_NAME, language="en")
    for hit in result.hits:
        if hit.date is None:  # a feed entry needs a date, and dates are never invented
            continue
        published = dt.datetime(hit.date.year, hit.date.month, hit.date.day,
                                tzinfo=dt.timezone.utc)
        link = root + article_path(hit.id)
        atom.add_item(title=xml_text(hit.headline) or "(no headline)", link=link,
                      description=xml_text(hit.snippet_html), pubdate=published,
                      updateddate=published, unique_id=link,
                      categories=[xml_text(n) for n in (*hit.people, *hit.organizations,
                                                        *hit.places)])
    body = atom.writeString("utf-8")
    resp = Response(body, mimetype="application/atom+xml")
    resp.headers["Content-Type"] = "application/atom+xml; charset=utf-8"
    return resp


# -- export ----------------------------------------------------------------------------------

def _row(article: Article, story_id: str, root: str) -> dict:
    return {
        "id": article.id,
        "story_id": story_id,
        "date": article.date.isoformat() if article.date else None,
        "headline": article.headline,
        "people": list(article.people),
        "organizations": list(article.organizations),
        "places": list(article.places),
        "section": article.section or None,
        "byline": article.byline or None,
        "source": article.source or None,
        "source_url": safe_source_url(article.url),
        "url": root + article_path(article.id),
        "body": article.body,
    }


def _csv_cell(value) -> str:
    if value is None:
        return ""
    text = "; ".join(value) if isinstance(value, list) else str(value)
    # a cell a spreadsheet would run as a formula is kept as text
    return "'" + text if text.startswith(_FORMULA_START) else text


# exports streaming at once in one worker process; one more is refused with a 503 and
# Retry-After, so that whole-archive exports cannot take a worker from searches
EXPORTS_AT_ONCE = 2
_exports = threading.BoundedSemaphore(EXPORTS_AT_ONCE)


def _export(kind: str):
    params = query_params()
    req = _request_from(params, page=1)
    cap = int(current_app.config["EXPORT_CAP"])
    if not _exports.acquire(blocking=False):
        error = ApiError(503, "busy", f"{EXPORTS_AT_ONCE} exports are running in this worker; "
                                      "try again in a few seconds")
        return jsonify(error.to_dict()), 503, {"Retry-After": "5"}
    released = []

    def release() -> None:  # once: at the end of the stream, or when the response closes
        if not released:
            released.append(True)
            _exports.release()

    try:
        export = archive().export(req, cap)
    except BaseException:
        release()
        raise
    root = public_root()

    def csv_lines() -> Iterator[str]:
        try:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(EXPORT_FIELDS)
            for article, story_id in export:
                row = _row(article, story_id, root)
                writer.writerow([_csv_cell(row[f]) for f in EXPORT_FIELDS])
                if buffer.tell() > 64 * 1024:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
                    time.sleep(0)  # under gevent workers: searches run between chunks
            yield buffer.getvalue()
        finally:
            release()

    def json_lines() -> Iterator[str]:
        try:
            for n, (article, story_id) in enumerate(export, start=1):
                yield json.dumps(_row(article, story_id, root), ensure_ascii=False) + "\n"
                if n % 200 == 0:
                    time.sleep(0)
        finally:
            release()

    if kind == "csv":
        resp = Response(csv_lines(), mimetype="text/csv")
        resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    else:
        resp = Response(json_lines(), mimetype="application/jsonl")
        resp.headers["Content-Type"] = "application/jsonl; charset=utf-8"
    resp.call_on_close(export.close)
    resp.call_on_close(release)
    resp.headers["Content-Disposition"] = f'attachment; filename="archive-export.{kind}"'
    resp.headers["X-Total-Count"] = str(export.total)
    resp.headers["X-Export-Rows"] = str(len(export))
    resp.headers["X-Export-Truncated"] = "true" if export.truncated else "false"
    return resp


@bp.get("/api/export.csv")
def export_csv():
    return _export("csv")


@bp.get("/api/export.jsonl")
def export_jsonl():
    return _export("jsonl")


# -- people ----------------------------------------------------------------------------------

def person_search_url(name: str) -> str:
    return "/?" + urlencode({"person": name})


@bp.get("/api/people")
def people_lookup():
    try:
        prefix, limit = parse_lookup_params(query_params())
    except ParamError as exc:
        raise ApiError(400, exc.code, exc.message, exc.param) from None
    found = archive().people_lookup(prefix, limit)
    return jsonify({"prefix": prefix, "people": [
        {"name": v.value, "count": v.count, "search_url": person_search_url(v.value),
         "cooccurrence_url": "/api/people/" + quote(v.value, safe="") + "/cooccurrence"}
        for v in found]})


def _names_lookup(kind: str, param: str):
    try:
        prefix, limit = parse_lookup_params(query_params())
    except ParamError as exc:
        raise ApiError(400, exc.code, exc.message, exc.param) from None
    found = archive().names_lookup(kind, prefix, limit)
    return jsonify({"prefix": prefix, kind: [
        {"name": v.value, "count": v.count, "search_url": "/?" + urlencode({param: v.value})}
        for v in found]})


@bp.get("/api/organizations")
def organizations_lookup():
    return _names_lookup("organizations", "organization")


@bp.get("/api/places")
def places_lookup():
    return _names_lookup("places", "place")


ENTITY_PARAMS = {"people": "person", "organizations": "organization", "places": "place"}


QUERY_FIELDS = {"people": "people", "organizations": "org", "places": "place"}


def both_url(kind: str, name: str, other: str, value: str) -> str:
    """The search for the articles that name both ``name`` (of ``kind``) and ``value`` (of
    ``other``): filters of two kinds hold together; two people with ``person_match=all``;
    two organisations or two places, the second as a query field (their filters mean "any")."""
    pairs = [(ENTITY_PARAMS[kind], name)]
    if other != kind:
        pairs.append((ENTITY_PARAMS[other], value))
    elif kind == "people":
        pairs += [("person", value), ("person_match", "all")]
    else:
        pairs.append(("q", f'{QUERY_FIELDS[other]}:"{value.replace(chr(34), "")}"'))
    return "/?" + urlencode(pairs)


def entity_path(kind: str, name: str) -> str:
    """The address of the page of a person, organisation or place (``kind``)."""
    return f"/{kind}/" + quote(name, safe="")


def entity_json(kind: str, name: str, raise_missing: bool = False) -> dict:
    """``GET /api/<kind>/<name>``'s body: the entity's profile, each name, year and article
    with the address of its own page or search (``url``: the JSON; ``page_url``: the page)."""
    try:
        profile = archive().entity(kind, name)
    except EntityNotFound:
        if raise_missing:
            raise
        raise ApiError(404, "not_found", f"no article names {name!r}", "name") from None
    param = ENTITY_PARAMS[kind]
    body = profile.to_dict()
    body["search_url"] = "/?" + urlencode({param: profile.name})
    body["page_url"] = entity_path(kind, profile.name)
    for year in body["years"]:
        year["search_url"] = "/?" + urlencode({param: profile.name, "year": year["value"]})
    for section in body["sections"]:
        section["search_url"] = "/?" + urlencode({param: profile.name,
                                                  "section": section["value"]})
    for other in ENTITY_KINDS:
        for v in body[other]:
            v["url"] = "/api" + entity_path(other, v["value"])
            v["page_url"] = entity_path(other, v["value"])
            v["search_url"] = both_url(kind, profile.name, other, v["value"])
    for art in body["latest"]:
        art["url"] = article_path(art["id"])
    return body


@bp.get("/api/people/<path:name>")
def person_profile(name: str):
    return jsonify(entity_json("people", name))


@bp.get("/api/organizations/<path:name>")
def organization_profile(name: str):
    return jsonify(entity_json("organizations", name))


@bp.get("/api/places/<path:name>")
def place_profile(name: str):
    return jsonify(entity_json("places", name))


def cooccurrence_of(name: str, params: dict[str, list[str]]):
    """(person, articles, values, the search it was counted in or None) for page and API."""
    try:
        size = parse_size(params)
    except ParamError as exc:
        raise ApiError(400, exc.code, exc.message, exc.param) from None
    # every documented parameter is checked, whether or not it narrows the count; paging
    # parameters are not this list's and are left alone
    search = _request_from({k: v for k, v in params.items()
                            if k not in ("page", "per_page", "facet_size")})
    within = search if has_search_params(params) else None
    person, articles, values = archive().cooccurrence(name, within, size)
    return person, articles, values, within


@bp.get("/api/people/<path:name>/cooccurrence")
def cooccurrence(name: str):
    try:
        person, articles, values, within = cooccurrence_of(name, query_params())
    except PersonNotFound:
        raise ApiError(404, "not_found", f"no article names {name!r}", "name") from None
    return jsonify({
        "person": person, "articles": articles,
        "within": within.to_dict() if within is not None else None,
        "people": [{"name": v.value, "count": v.count, "search_url": person_search_url(v.value)}
                   for v in values]})
