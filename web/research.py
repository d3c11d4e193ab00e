"""Research tools over the same search parameters as every other endpoint: trends over time
(``GET /api/trends``, ``/api/trends.csv`` and the page ``/trends``), keyword in context
(``/api/kwic``, ``/api/kwic.csv``, ``/kwic``) and what is distinctive about a search
(``/api/significant`` and the results page's panel)."""

from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

from flask import Blueprint, Response, jsonify, render_template

from search.errors import ParamError
from search.params import FILTER_PARAMS as FILTERS
from search.params import SEARCH_PARAMS, Param, parse_search_params
from search.kwic import DEFAULT_LINES, MAX_LINES
from search.models import SORTS
from search.significant import DEFAULT_SIZE as SIG_DEFAULT
from search.significant import MAX_SIZE as SIG_MAX
from search.trends import INTERVALS, MAX_SERIES
from web.api import ApiError, archive, query_params

bp = Blueprint("research", __name__)

_Q = next(p for p in SEARCH_PARAMS if p.name == "q")
INTERVAL = Param("interval", "choice", "The buckets: year (the default), month, week (Monday "
                 "to Sunday, named by its Monday) or day.", choices=INTERVALS, default="year")


def api_body(build) -> dict:
    """``build(query_params())``; a parameter to fix is the API's 400 (``ApiError``)."""
    try:
        return build(query_params())
    except ParamError as exc:
        raise ApiError(400, exc.code, exc.message, exc.param) from None


def page_body(build, params: dict, title: str) -> tuple[dict | None, Response | None]:
    """(``build(params)``, None), or (None, the 400 page saying which parameter to fix)."""
    try:
        return build(params), None
    except ParamError as exc:
        html = render_template("error.html", status=400, title=title, message=exc.message,
                               param=exc.param)
        return None, Response(html, status=400)


def trend_params(params: dict[str, list[str]]):
    """(queries, the filters as a SearchRequest, interval) of a trends request."""
    queries = [v for v in params.get("q") or [] if v is not None]
    if len(queries) > MAX_SERIES:
        raise ParamError("q", f"at most {MAX_SERIES} 'q' values (one series each)")
    queries = [_Q.convert(v) for v in queries]
    request = parse_search_params({k: v for k, v in params.items() if k in FILTERS})
    return queries, request, INTERVAL.read(params)


def trends_json(params: dict[str, list[str]]) -> dict:
    """``GET /api/trends``' body (``ParamError`` for a parameter to fix)."""
    queries, request, interval = trend_params(params)
    found = archive().trends(queries, request, interval)
    filters = [(k, v) for k in FILTERS for v in params.get(k) or [] if v != ""]
    series = []
    for s in found.series:
        body = s.to_dict()
        for point in body["points"]:
            point["search_url"] = "/?" + urlencode(
                [(k, v) for k, v in filters if k not in ("from", "to")]
                + ([("q", s.q)] if s.q else []) + [("from", point["from"]), ("to", point["to"])])
        series.append(body)
    return {"interval": found.interval, "notes": list(found.notes), "filters": {
        k: v for k, v in request.to_dict().items() if k in FILTERS}, "undated": found.undated,
        "series": series}


@bp.get("/api/trends")
def trends():
    return jsonify(api_body(trends_json))


@bp.get("/api/trends.csv")
def trends_csv():
    """The series as CSV: a row per bucket (date, from, to, total), then each query's count
    and share."""
    from web.more import _csv_cell

    body = api_body(trends_json)
    out = io.StringIO()
    writer = csv.writer(out)
    header = ["date", "from", "to", "total"]
    for s in body["series"]:
        name = s["q"] or "(everything)"
        header += [f"count: {name}", f"share: {name}"]
    writer.writerow([_csv_cell(h) for h in header])
    columns = [s["points"] for s in body["series"]]
    for i, first in enumerate(columns[0] if columns else []):
        row = [first["date"], first["from"], first["to"], first["total"]]
        for points in columns:
            row += [points[i]["count"], f"{points[i]['share']:.6f}"]
        writer.writerow(row)
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="trends.csv"'})


COLOURS = ("#0b4f8a", "#c2410c", "#15803d", "#7e22ce", "#b45309", "#0e7490", "#be123c",
           "#4d7c0f")


def chart(series: list[dict], measure: str, width: int = 720, height: int = 240) -> dict:
    """What the page's SVG draws: each series' points as (x, y, value, point) and the axes."""
    points = series[0]["points"] if series else []
    n = len(points)
    left, right, top, bottom = 48, 32, 12, 28
    inner_w = max(width - left - right, 1)
    step = inner_w / max(n - 1, 1)
    key = "share" if measure == "share" else "count"
    top_value = max([p[key] for s in series for p in s["points"]] or [0]) or 1
    inner_h = height - top - bottom
    lines = []
    for i, s in enumerate(series):
        dots = [(round(left + j * step, 1),
                 round(top + inner_h - inner_h * p[key] / top_value, 1), p)
                for j, p in enumerate(s["points"])]
        lines.append({"q": s["q"], "colour": COLOURS[i % len(COLOURS)], "dots": dots,
                      "path": " ".join(f"{x},{y}" for x, y, _ in dots)})
    every = max(1, n // 8)
    ticks = [(round(left + j * step, 1), p["date"]) for j, p in enumerate(points)
             if j % every == 0 or j == n - 1]
    return {"width": width, "height": height, "left": left, "top": top, "bottom": height - bottom,
            "lines": lines, "ticks": ticks, "top_value": top_value, "measure": key}


@bp.get("/trends")
def trends_page():
    from flask import request as flask_request

    from web.views import _alternate

    params = query_params()
    measure = "share" if flask_request.args.get("measure") == "share" else "count"
    shared = [(k, v) for k, vs in params.items() if k in FILTERS + ("q", "interval")
              for v in vs if v != ""]
    api_query = urlencode(shared)
    body, refused = page_body(trends_json, params, "That trend could not be drawn")
    if refused is not None:
        return refused
    html = render_template("trends.html", body=body, chart=chart(body["series"], measure),
                           measure=measure, api_query=api_query,
                           queries=[s["q"] for s in body["series"]],
                           filters=[(k, v) for k, v in shared if k in FILTERS],
                           search_url="/?" + urlencode(
                               [(k, v) for k, v in shared if k in FILTERS]
                               + ([("q", body["series"][0]["q"])]
                                  if body["series"] and body["series"][0]["q"] else [])),
                           intervals=INTERVALS)
    return _alternate(Response(html), "/api/trends?" + api_query)


# -- keyword in context --------------------------------------------------------------------------

KWIC_SORT = Param("sort", "choice", "The lines' order: the search's own (relevance, the "
                  "default with a query, newest or oldest: articles in that order, each "
                  "article's lines in text order), or left / right: sorted by the words just "
                  "before / just after the match.", choices=SORTS + ("left", "right"))
KWIC_LIMIT = Param("limit", "int", "At most this many lines (articles are read in the "
                   "search's order until there are this many); more says when some were left "
                   "out.", low=1, high=MAX_LINES, default=DEFAULT_LINES)
KWIC_PARAMS = ("q",) + FILTERS


def kwic_json(params: dict[str, list[str]]) -> dict:
    """``GET /api/kwic``' body (``ParamError`` for a parameter to fix)."""
    sort = KWIC_SORT.read(params)
    limit = KWIC_LIMIT.read(params)
    request = parse_search_params(
        {k: v for k, v in params.items() if k in KWIC_PARAMS}
        | ({"sort": [sort]} if sort in SORTS else {}))
    found = archive().kwic(request, sort if sort in ("left", "right") else "order", limit)
    return {"q": request.q, "filters": {k: v for k, v in request.to_dict().items()
                                        if k in FILTERS},
            "sort": sort or request.effective_sort, "total": found.total,
            "articles_read": found.read, "limit": limit, "more": found.more,
            "notes": list(found.notes), "lines": [line.to_dict() for line in found.lines]}


@bp.get("/api/kwic")
def kwic():
    return jsonify(api_body(kwic_json))


@bp.get("/api/kwic.csv")
def kwic_csv():
    """The lines as CSV: id, date, headline, field, left, match, right."""
    from web.more import _csv_cell

    body = api_body(kwic_json)
    out = io.StringIO()
    writer = csv.writer(out)
    columns = ["id", "date", "headline", "field", "left", "match", "right"]
    writer.writerow(columns)
    for line in body["lines"]:
        writer.writerow([_csv_cell(line[c] or "") for c in columns])
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": 'attachment; filename="kwic.csv"'})


@bp.get("/kwic")
def kwic_page():
    from web.api import article_path
    from web.views import _alternate

    params = query_params()
    shared = [(k, v) for k, vs in params.items() if k in KWIC_PARAMS + ("sort", "limit")
              for v in vs if v != ""]
    api_query = urlencode(shared)
    body, refused = page_body(kwic_json, {k: [v for v in vs if v != ""]
                                          for k, vs in params.items()
                                          if any(v != "" for v in vs)},
                              "Those lines could not be shown")
    if refused is not None:
        return refused
    search_pairs = [(k, v) for k, v in shared if k in KWIC_PARAMS]
    back = urlencode(search_pairs)
    html = render_template(
        "kwic.html", body=body, api_query=api_query, search_url="/?" + back,
        filters=[(k, v) for k, v in shared if k in FILTERS],
        article_url=lambda art_id: article_path(art_id) + (
            "?" + urlencode([("q", body["q"])]) if body["q"] else ""),
        sort_url=lambda value: "/kwic?" + urlencode(
            [(k, v) for k, v in shared if k != "sort"] + [("sort", value)]),
        sorts=SORTS + ("left", "right"))
    return _alternate(Response(html), "/api/kwic?" + api_query)


# -- what is distinctive -------------------------------------------------------------------------

SIG_SIZE = Param("size", "int", "How many terms of each kind (words, people, organizations, "
                 "places).", low=1, high=SIG_MAX, default=SIG_DEFAULT)
SIG_PARAMS = ("q",) + FILTERS
_ADD_FILTER = {"people": "person", "organizations": "organization", "places": "place"}


def significant_json(params: dict[str, list[str]]) -> dict:
    """``GET /api/significant``' body (``ParamError`` for a parameter to fix)."""
    size = SIG_SIZE.read(params)
    kept = {k: v for k, v in params.items() if k in SIG_PARAMS}
    request = parse_search_params(kept)
    found = archive().significant(request, size)
    base = [(k, v) for k in SIG_PARAMS for v in kept.get(k) or [] if v != ""]
    out = {}
    for kind, terms in found.kinds.items():
        listed = []
        for term in terms:
            body = term.to_dict()
            if kind == "words":  # the word added to the query
                q = f"{request.q} {term.term}".strip()
                pairs = [(k, v) for k, v in base if k != "q"] + [("q", q)]
            else:
                pairs = base + [(_ADD_FILTER[kind], term.term)]
            body["search_url"] = "/?" + urlencode(pairs)
            listed.append(body)
        out[kind] = listed
    return {"q": request.q, "filters": {k: v for k, v in request.to_dict().items()
                                        if k in FILTERS},
            "foreground": found.foreground, "background": found.background,
            "sampled": found.sampled, "score": "jlh", "notes": list(found.notes), **out}


@bp.get("/api/significant")
def significant():
    return jsonify(api_body(significant_json))


@bp.get("/significant")
def significant_page():
    from web.views import _alternate

    params = {k: [v for v in vs if v != ""] for k, vs in query_params().items()}
    params = {k: vs for k, vs in params.items() if vs}
    shared = [(k, v) for k, vs in params.items() if k in SIG_PARAMS + ("size",) for v in vs]
    body, refused = page_body(significant_json, params, "That could not be worked out")
    if refused is not None:
        return refused
    html = render_template("significant.html", body=body, api_query=urlencode(shared),
                           search_url="/?" + urlencode([(k, v) for k, v in shared
                                                        if k in SIG_PARAMS]))
    return _alternate(Response(html), "/api/significant?" + urlencode(shared))
