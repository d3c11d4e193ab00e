"""The OpenAPI 3.1 description of ``/api``, served at ``/api/openapi.json``."""

from __future__ import annotations

from search import params as P
from search.trends import INTERVALS
from web.gunicorn_conf import LIMIT_REQUEST_FIELD_SIZE, LIMIT_REQUEST_FIELDS, LIMIT_REQUEST_LINE

_EXPORT_FIELDS = ("id", "story_id", "date", "headline", "people", "organizations", "places",
                  "section", "byline", "source", "source_url", "url", "body")


_ERROR = {"description": "Invalid request",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
# answered by the HTTP server itself, before the application, in the same JSON error shape
_TRANSPORT = {
    "414": {**_ERROR, "description": f"The request line (method, path and query string, "
                                     f"percent-encoded) is longer than {LIMIT_REQUEST_LINE:,} "
                                     "bytes. Every query parameter fits at its own limit: a "
                                     "500-character q in any script takes at most 6,000."},
    "431": {**_ERROR, "description": f"A header is longer than {LIMIT_REQUEST_FIELD_SIZE:,} "
                                     f"bytes, or there are more than {LIMIT_REQUEST_FIELDS} "
                                     "headers."},
}


def search_parameters() -> list[dict]:
    return [p.openapi() for p in P.SEARCH_PARAMS]


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}


def _filters() -> list[dict]:
    """The filters of ``/api/search``, which the research endpoints take too."""
    return [p.openapi() for p in P.SEARCH_PARAMS if p.name in P.FILTER_PARAMS]


def _q() -> dict:
    return next(p.openapi() for p in P.SEARCH_PARAMS if p.name == "q")


def trends_parameters() -> list[dict]:
    """``/api/trends``' parameters: q (repeated, one series each), interval, the filters."""
    return [
        {"name": "q", "in": "query", "required": False,
         "description": "A query, as /api/search's q; repeat for more series.",
         "schema": {"type": "array", "maxItems": 8,
                    "items": {"type": "string", "maxLength": P.MAX_QUERY_CHARS}}},
        {"name": "interval", "in": "query", "required": False,
         "description": "year (the default), month, week (Monday to Sunday, named by its "
                        "Monday) or day.",
         "schema": {"type": "string", "enum": list(INTERVALS), "default": "year"}},
        *_filters()]


def kwic_parameters() -> list[dict]:
    """``/api/kwic``' parameters: q, sort, limit, the filters."""
    from web.research import KWIC_LIMIT, KWIC_SORT

    return [_q(), KWIC_SORT.openapi(), KWIC_LIMIT.openapi(), *_filters()]


def significant_parameters() -> list[dict]:
    """``/api/significant``' parameters: q, size, the filters."""
    from web.research import SIG_SIZE

    return [_q(), SIG_SIZE.openapi(), *_filters()]


def spec() -> dict:
    facet_value = {"type": "object", "properties": {
        "value": {"type": ["string", "integer"]}, "count": {"type": "integer"},
        "selected": {"type": "boolean"}}}
    hit = {"type": "object", "properties": {
        "id": {"type": "string"}, "headline": {"type": "string"},
        "headline_html": {"type": "string", "description": "escaped, matches in <mark>"},
        "snippet_html": {"type": "string", "description": "escaped, matches in <mark>"},
        "date": {"type": ["string", "null"], "format": "date"},
        "people": {"type": "array", "items": {"type": "string"}},
        "organizations": {"type": "array", "items": {"type": "string"}},
        "places": {"type": "array", "items": {"type": "string"}},
        "section": {"type": "string"},
        "url": {"type": "string", "description": "the article's page here"},
        "source_url": {"type": ["string", "null"], "description": "original, http(s) only"},
        "score": {"type": ["number", "null"]},
        "story": {"type": "object", "description": "the article's story: its id (the lead's "
                  "article id) and its number of versions in the archive",
                  "properties": {"id": {"type": "string"}, "versions": {"type": "integer"}}}}}
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "News archive search", "version": "0.1.0",
                 "description": "Full-text search over a news archive."},
        "paths": {
            "/api/search": {"get": {
                "summary": "Search the archive",
                "parameters": search_parameters(),
                "responses": {"200": {"description": "Results", "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/SearchResult"}}}},
                    "400": _ERROR,
                    "503": {**_ERROR, "description": "No index yet, or the search timed out"}}}},
            "/api/articles/{id}": {"get": {
                "summary": "One whole article, with related articles and its story",
                "description": "story: {id, lead, versions: [{id, headline, date, source, "
                               "similarity, jaccard, url}]}, every version of the article's "
                               "story (this one included), the lead first, then by date. "
                               "similarity: the share of the smaller text's runs of three "
                               "words found in the lead's (or the lead's in its); jaccard: "
                               "the runs they share over all runs of the two.",
                "parameters": [_ID],
                "responses": {"200": {"description": "The article"},
                              "404": {**_ERROR, "description": "No such article"}}}},
            "/api/stories/{id}": {"get": {
                "summary": "A story: every version and what it changed against the lead",
                "description": "id: the story's id, its lead's article id (hits carry it as "
                               "story.id). versions: as an article's story.versions, each with "
                               "changes: {headline: {changed, diff}, added, removed, edited: "
                               "[{lead, version, diff}], unchanged}: paragraphs added, removed "
                               "and edited against the lead, an edited one (and the headline) "
                               "as a word-level diff, a list of {op: equal | insert | delete, "
                               "text}.",
                "parameters": [_ID],
                "responses": {"200": {"description": "The story"},
                              "404": {**_ERROR, "description": "No such story"}}}},
            "/api/trends": {"get": {
                "summary": "How many articles match each query in each year, month, week or day",
                "description": "{interval, filters, undated, series: [{q, undated, notes, "
                               "points: [{date, from, to, count, total, share, search_url}]}]}. "
                               "One series per q (at most 8; none given: one series of "
                               "everything the filters select). count: articles matching q and "
                               "the filters in the bucket, equal to /api/search's total for "
                               "that q with from and to set to the point's from and to; total: "
                               "articles matching the filters alone in it; share = count / "
                               "total (0 when total is 0). Every bucket from the request's "
                               "from (else the first dated article the filters select) to its "
                               "to (else the last) is listed, empty ones as zeros, at most "
                               "5,000 (more by the interval asked: the next longer interval is "
                               "counted by, interval says which, and notes say why); a bucket "
                               "cut by from or to has from and to inside them. "
                               "date: 1987, 1987-03, a week's Monday 1987-03-02, or the day. "
                               "Undated articles are counted apart (undated).",
                "parameters": trends_parameters(),
                "responses": {"200": {"description": "The series"},
                              "400": {**_ERROR, "description": "A parameter to fix"},
                              "503": {**_ERROR, "description": "No index yet, or the counting "
                                      "timed out"}}}},
            "/api/trends.csv": {"get": {
                "summary": "The series of /api/trends as CSV",
                "description": "A row per bucket: date, from, to, total, then for each q "
                               "'count: <q>' and 'share: <q>' ('(everything)' for no q); a "
                               "header cell that would start a spreadsheet formula is "
                               "prefixed with '.",
                "parameters": trends_parameters(),
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}},
                              "400": {**_ERROR, "description": "A parameter to fix"},
                              "503": {**_ERROR, "description": "No index yet, or the counting "
                                      "timed out"}}}},
            "/api/kwic": {"get": {
                "summary": "Keyword in context: each occurrence of the query's words and "
                           "phrases in the articles it matches",
                "description": "{q, filters, sort, total, articles_read, limit, more, notes, "
                               "lines: [{id, date, headline, field, left, match, right}]}. "
                               "An occurrence is what the index matched: a word in any of its "
                               "forms, a prefix's or fuzzy word's expansions, an exact: word "
                               "as written, a phrase from its first word to its last, each word "
                               "of a NEAR group that has the others within its distance; not "
                               "the words left out (NOT, -word) nor names searched in the "
                               "people/org/place fields. left and right: up to 60 characters "
                               "each side, cut at a word. Articles are read in the search's "
                               "order (every article, not one per story), headline then body, "
                               "until limit lines are found (at most 1,000; more: true when "
                               "lines were left out); sort=left or right then sorts those "
                               "lines by the words before or after the match.",
                "parameters": kwic_parameters(),
                "responses": {"200": {"description": "The lines"},
                              "400": {**_ERROR, "description": "A parameter to fix"},
                              "503": {**_ERROR, "description": "No index yet, or the search "
                                      "timed out"}}}},
            "/api/kwic.csv": {"get": {
                "summary": "The lines of /api/kwic as CSV",
                "description": "Columns id, date, headline, field, left, match, right; a cell "
                               "that would start a spreadsheet formula is prefixed with '.",
                "parameters": kwic_parameters(),
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}},
                              "400": {**_ERROR, "description": "A parameter to fix"},
                              "503": {**_ERROR, "description": "No index yet, or the search "
                                      "timed out"}}}},
            "/api/significant": {"get": {
                "summary": "What is distinctive about a search: words, people, organisations "
                           "and places unusually frequent in its articles",
                "description": "{q, filters, foreground, background, sampled, score: 'jlh', "
                               "notes, words, people, organizations, places: [{term, "
                               "foreground, background, score, search_url}]}. foreground: "
                               "matching articles holding the term (of the foreground "
                               "matching articles), background: archive articles holding it "
                               "(of background). score: JLH, as Elasticsearch's "
                               "significant_terms: (fg% - bg%) * fg% / bg%, where fg% = "
                               "foreground / matching articles and bg% = background / archive "
                               "articles; 0 when fg% <= bg%. A term is listed when at least 2 "
                               "matching articles hold it (3 from 20 matching articles). Names "
                               "are all counted; words are drawn from up to 50 matching "
                               "articles spread over the match set (sampled; their headlines "
                               "and the first 1,500 characters of their bodies), then counted "
                               "exactly. The query's own words and the filters' own names are "
                               "left out. search_url: the search with the word added to q or "
                               "the name added as a filter.",
                "parameters": significant_parameters(),
                "responses": {"200": {"description": "The terms"},
                              "400": {**_ERROR, "description": "A parameter to fix"},
                              "503": {**_ERROR, "description": "No index yet, or the search "
                                      "timed out"}}}},
            "/api/export.csv": {"get": {
                "summary": "Every article of a search as CSV, streamed",
                "description": f"The search's parameters (page and per_page are ignored); rows in "
                               f"the search's order, at most {P.EXPORT_CAP:,} (the server's "
                               "EXPORT_CAP). Headers: X-Total-Count (the search's total), "
                               "X-Export-Rows, X-Export-Truncated (true when total > rows). "
                               "Columns: " + ", ".join(_EXPORT_FIELDS) + "; people, "
                               "organizations and places each joined with '; '; a cell that would start a spreadsheet formula (its "
                               "first character one of = + - @, tab or carriage return: "
                               "OWASP's list) is prefixed with '.",
                "parameters": search_parameters(),
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}},
                              "400": _ERROR,
                              "503": {**_ERROR, "description": "No index yet, the search timed "
                                      "out, or two exports are running (Retry-After says when "
                                      "to try again)"}}}},
            "/api/export.jsonl": {"get": {
                "summary": "Every article of a search as JSON Lines, streamed",
                "description": "As /api/export.csv, one JSON object a line (names as lists, "
                               "missing values null).",
                "parameters": search_parameters(),
                "responses": {"200": {"description": "JSON Lines",
                                      "content": {"application/jsonl": {}}},
                              "400": _ERROR,
                              "503": {**_ERROR, "description": "As /api/export.csv"}}}},
            "/api/people": {"get": {
                "summary": "Look people up by the start of their name or of any word in it",
                "description": "Accents and case are ignored (\"ines\" finds \"Inès\"). Names "
                               "that start with the prefix come first, then those with a later "
                               "word that does; then by articles, most first.",
                "parameters": [P.PREFIX.openapi(), P.LIMIT.openapi()],
                "responses": {"200": {"description": "{prefix, people: [{name, count, "
                                                     "search_url, cooccurrence_url}]}"},
                              "400": _ERROR}}},
            **{f"/api/{kind}": {"get": {
                "summary": f"Look {label} up by the start of their name or of any word in it",
                "description": "As /api/people: accents and case ignored; names that start "
                               "with the prefix first, then by articles, most first.",
                "parameters": [P.PREFIX.openapi(), P.LIMIT.openapi()],
                "responses": {"200": {"description": f"{{prefix, {kind}: [{{name, count, "
                                                     "search_url}]}"},
                              "400": _ERROR}}}
               for kind, label in (("organizations", "organisations"), ("places", "places"))},
            **{f"/api/{kind}/{{name}}": {"get": {
                "summary": f"One {label}: articles, years, names and sections most often with it",
                "description": "{kind, name, articles, first_date, last_date, years: [{value, "
                               "count, search_url}] (every year with articles), undated, "
                               "people, organizations, places: [{value, count, url, "
                               "page_url, search_url}] (most often named with it, itself left "
                               "out; url: its JSON profile, page_url: its page, search_url: "
                               "the articles naming both), sections: [{value, count, "
                               "search_url}], aliases (other spellings merged into this name "
                               "by the archive's aliases file), latest: [{id, headline, date, "
                               "url}], search_url, page_url (the HTML page: /people/{name}, "
                               "/organizations/{name}, /places/{name})}. Counts are of "
                               "articles, over the whole archive; the name is matched with "
                               "case and accents ignored.",
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The profile"},
                              "404": {**_ERROR, "description": f"No article names this {label}"}}}}
               for kind, label in (("people", "person"), ("organizations", "organisation"),
                                   ("places", "place"))},
            "/api/people/{name}/cooccurrence": {"get": {
                "summary": "The people most often named in the same articles as a person",
                "description": "With search parameters, counted within that search's results "
                               "(all its filters); without, over the whole archive.",
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string"}},
                               *[p.openapi() for p in P.COOCCURRENCE_PARAMS]],
                "responses": {"200": {"description": "{person, articles, within, people: "
                                                     "[{name, count, search_url}]}"},
                              "400": _ERROR,
                              "404": {**_ERROR, "description": "No article names this person"}}}},
            "/api/stats": {"get": {"summary": "Counts about the archive",
                                   "responses": {"200": {"description": "Stats"}}}},
            "/api/openapi.json": {"get": {"summary": "This document",
                                          "responses": {"200": {"description": "OpenAPI"}}}},
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {"error": {
                "type": "object", "required": ["code", "message", "param"], "properties": {
                    "code": {"type": "string"}, "message": {"type": "string"},
                    "param": {"type": ["string", "null"]}}}}},
            "SearchResult": {"type": "object", "properties": {
                "query": {"type": "object"}, "total": {"type": "integer",
                                                       "description": "matching articles"},
                "stories": {"type": "integer",
                            "description": "distinct stories among the matching articles; "
                                           "with group=story, pages count stories"},
                "page": {"type": "integer"}, "per_page": {"type": "integer"},
                "pages": {"type": "integer"}, "took_ms": {"type": "number"},
                "hits": {"type": "array", "items": hit},
                "facets": {"type": "object", "properties": {
                    **{k: {"type": "array", "items": facet_value}
                       for k in ("people", "organizations", "places", "section", "year")},
                    "month": {"type": "array", "items": facet_value,
                              "description": "with exactly one year selected: its twelve "
                                             "months as YYYY-MM; selected when from/to are "
                                             "that month; empty otherwise"}}},
                "undated": {"type": "integer"},
                "timed_out": {"type": "boolean",
                              "description": "ranking hit the time limit: hits are ordered by the query words scored before it"},
                "partial": {"type": "boolean",
                            "description": "the xapian engine only: some shards of the "
                                           "cluster did not answer, and the answer (total, "
                                           "facets, hits) is from the others"},
                "missing_shards": {"type": "array", "items": {"type": "string"},
                                   "description": "the shards that did not answer "
                                                  "(host:port), when partial"},
                "suggestion": {"type": ["object", "null"], "properties": {
                    "q": {"type": "string"}, "html": {"type": "string"}}}}},
        }},
    }
    for path, item in doc["paths"].items():
        responses = item["get"]["responses"]
        responses.update(_TRANSPORT)
        if path != "/api/openapi.json":
            responses.setdefault("503", {**_ERROR, "description": "No index yet"})
    return doc
