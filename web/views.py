"""The HTML pages: the search page (``/``) and article pages (``/articles/<id>``).

They render exactly the data of the JSON API (``web.api.result_to_json``) and link to it.
Every state of the search page is in its URL; links and forms work without JavaScript.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, current_app, redirect, render_template, request
from werkzeug.datastructures import MultiDict

from search.errors import (ArticleNotFound, EntityNotFound, IndexNotFound, ParamError,
                           PersonNotFound, StoryNotFound)
from search.models import ENTITY_KINDS
from search.params import FILTER_PARAMS, PARAMS, Param, parse_search_params
from search.query import safe_source_url
from web.api import archive, article_path, query_params, result_to_json
from web.more import ENTITY_PARAMS, entity_json, entity_path, search_params_only

COOCCURRENCE_IN_VIEW = 10
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def arch_cooccurrence(name: str, req):
    person, articles, values = archive().cooccurrence(name, req, COOCCURRENCE_IN_VIEW)
    return {"person": person, "articles": articles, "people": values}

bp = Blueprint("views", __name__)

ARTICLE_PART = Param("part", "int", "The part of a long article to show, from 1.", low=1,
                     high=99_999, default=1)

PAGE_FACET_SIZE = 40  # people listed on the page: 10 in view, the rest behind "more"
PEOPLE_IN_VIEW = 10


def current_args() -> MultiDict:
    return MultiDict([(k, v) for k, v in request.args.items(multi=True) if k in PARAMS and v != ""])


def url_with(args: MultiDict, *, add=(), remove=(), set_=None, keep_page=False) -> str:
    """``/`` with ``args`` changed: (name, value) pairs added or removed, names set."""
    out = MultiDict(args)
    for name, value in remove:
        out.setlist(name, [v for v in out.getlist(name) if v != str(value)])
    for name, value in add:
        if str(value) not in out.getlist(name):
            out.add(name, str(value))
    for name, value in (set_ or {}).items():
        if value in (None, ""):
            out.pop(name, None)
        else:
            out.setlist(name, [str(value)])
    if not keep_page and "page" not in (set_ or {}):
        out.pop("page", None)
    query = urlencode(list(out.items(multi=True)))
    return "/?" + query if query else "/"


@bp.app_context_processor
def helpers():
    args = current_args()

    def toggle(name, value, selected):
        return url_with(args, remove=[(name, value)]) if selected else \
            url_with(args, add=[(name, value)])

    return {
        "args": args,
        "toggle_url": toggle,
        "add_url": lambda name, value: url_with(args, add=[(name, value)]),
        "remove_url": lambda name, value: url_with(args, remove=[(name, value)]),
        "set_url": lambda **kw: url_with(args, set_=kw),
        "page_url": lambda page: url_with(args, set_={"page": page if page > 1 else None}),
        # an article's page carries the search that led to it, for its marks and its
        # "Back to search" link
        "article_url": lambda art_id: article_path(art_id) + (
            "?" + urlencode(list(args.items(multi=True))) if args else ""),
        "back_url": url_with(args, keep_page=True),
        # a person's, organisation's or place's own page, with the search that led to it
        # (for its "Back to search" and "Add to this search" links)
        "entity_url": lambda kind, name: entity_path(kind, name) + (
            "?" + urlencode(list(args.items(multi=True))) if args else ""),
        "pager": pager,
    }


def part_url(article_id: str, part: int) -> str:
    """The address of one part of a long article, with the search that led to it."""
    pairs = list(current_args().items(multi=True)) + ([("part", part)] if part > 1 else [])
    return article_path(article_id) + ("?" + urlencode(pairs) if pairs else "")


def pager(page: int, pages: int, around: int = 2) -> list[int | None]:
    """Page numbers to link: the first, the last, and ``around`` either side of ``page``;
    ``None`` where numbers are left out."""
    shown = sorted({1, pages, *range(max(1, page - around), min(pages, page + around) + 1)})
    out: list[int | None] = []
    for n in shown:
        if out and n - out[-1] > 1:
            out.append(None)
        out.append(n)
    return out


def year_bars(values: list[dict], span_limit: int = 150) -> list[dict]:
    """The year facet as a histogram: years without articles between the first and the last
    shown as empty bars (unless the span is implausibly wide)."""
    years = [v["value"] for v in values]
    if not years or max(years) - min(years) > span_limit:
        return values
    found = {v["value"]: v for v in values}
    return [found.get(y, {"value": y, "count": 0, "selected": False})
            for y in range(min(years), max(years) + 1)]


def _alternate(resp: Response, api_path: str) -> Response:
    resp.headers["Link"] = f'<{api_path}>; rel="alternate"; type="application/json"'
    return resp


@bp.get("/")
def search_page():
    if any(v == "" for v in request.args.values()):
        # a form sends its empty fields (person=&from=&to=): the address of the search
        # leaves them out, so that every search has one shareable URL
        kept = [(k, v) for k, v in request.args.items(multi=True) if v != ""]
        return redirect("/?" + urlencode(kept) if kept else "/", code=302)
    params = query_params()
    params.setdefault("facet_size", [str(PAGE_FACET_SIZE)])
    # the JSON twin is asked with exactly the parameters this page used (facet_size included)
    api_path = "/api/search?" + urlencode([(k, v) for k, vs in params.items() for v in vs])
    try:
        req = parse_search_params(params)
    except ParamError as exc:
        html = render_template("error.html", status=400, title="That search could not be read",
                               message=exc.message, param=exc.param)
        return _alternate(Response(html, status=400), api_path)
    try:
        result = archive().search(req)
    except IndexNotFound as exc:
        html = render_template("empty_index.html", message=str(exc),
                               index=str(archive().directory))
        return Response(html, status=503)
    data = result_to_json(result)
    together = None
    if len(req.person) == 1:
        # people named in the same articles, within this search (the panel of one person)
        try:
            together = arch_cooccurrence(req.person[0], req)
        except PersonNotFound:
            together = None
    shared = urlencode(search_params_only(params, "per_page"))
    html = render_template("search.html", data=data, people_in_view=PEOPLE_IN_VIEW,
                           api_path=api_path, together=together,
                           feed_path="/feed.atom" + ("?" + shared if shared else ""),
                           trends_query=urlencode(
                               [(k, v) for k, vs in params.items() for v in vs
                                if v != "" and (k == "q" or k in FILTER_PARAMS)]),
                           export_query=shared, export_cap=current_app.config["EXPORT_CAP"],
                           month_names=MONTH_NAMES, year_bars=year_bars(data["facets"]["year"]),
                           filtered=bool(req.person or req.organization or req.place or req.section
                                         or req.year or req.date_from
                                         or req.date_to))
    return _alternate(Response(html), api_path)


@bp.get("/articles/<path:article_id>")
def article_page(article_id: str):
    q = request.args.get("q", "")[:500]  # the search that led here: its words are marked
    arch = archive()
    try:
        art = arch.article(article_id)
        related = arch.related(article_id)
        story = arch.story(article_id)
        changed = None
        if len(story.versions) > 1 and story.lead != article_id:
            changed = arch.story_changes(story.id)[1].get(article_id)
    except (ArticleNotFound, StoryNotFound):
        html = render_template("error.html", status=404, title="No such article",
                               message="There is no article at this address. It may have been "
                                       "removed, or the link may be incomplete.")
        return Response(html, status=404)
    try:
        part = ARTICLE_PART.read({"part": request.args.getlist("part")[:1]})
    except ParamError as exc:
        html = render_template("error.html", status=400, title="That part could not be read",
                               message=exc.message, param=exc.param)
        return Response(html, status=400)
    headline_html, paragraphs, parts = arch.highlight_article(art, q, part)
    if part > parts:
        return redirect(part_url(art.id, parts), code=302)
    html = render_template("article.html", art=art, headline_html=headline_html,
                           paragraphs=paragraphs, related=related, story=story,
                           changed=changed, q=q, part=part,
                           parts=parts,
                           part_url=lambda n: part_url(art.id, n),
                           source_url=safe_source_url(art.url))
    return _alternate(Response(html), "/api" + article_path(art.id))


ENTITY_TITLES = {"people": "Person", "organizations": "Organisation", "places": "Place"}


def _entity_page(kind: str, name: str):
    args = current_args()
    try:
        profile = entity_json(kind, name, raise_missing=True)
    except EntityNotFound:
        html = render_template("error.html", status=404,
                               title=f"No such {ENTITY_TITLES[kind].lower()}",
                               message=f"No article in the archive names {name!r}.")
        return Response(html, status=404)
    except IndexNotFound as exc:
        html = render_template("empty_index.html", message=str(exc),
                               index=str(archive().directory))
        return Response(html, status=503)
    param = ENTITY_PARAMS[kind]
    html = render_template(
        "entity.html", profile=profile, kind=kind, kinds=ENTITY_KINDS,
        kind_title=ENTITY_TITLES[kind], param=param,
        year_chart=year_bars(profile["years"]),
        # "Add to this search" when the page was reached from a search that lacks the name
        add_to_search=(url_with(args, add=[(param, profile["name"])])
                       if args and profile["name"] not in args.getlist(param) else None),
        month_names=MONTH_NAMES)
    return _alternate(Response(html), "/api" + entity_path(kind, profile["name"]))


@bp.get("/people/<path:name>")
def person_page(name: str):
    return _entity_page("people", name)


@bp.get("/organizations/<path:name>")
def organization_page(name: str):
    return _entity_page("organizations", name)


@bp.get("/places/<path:name>")
def place_page(name: str):
    return _entity_page("places", name)
