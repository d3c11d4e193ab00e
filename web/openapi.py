"""The OpenAPI 3.1 description of ``/api``, served at ``/api/openapi.json``."""

from __future__ import annotations

from search import params as P

_EXPORT_FIELDS = ("id", "date", "headline", "people", "section", "byline", "source",
                  "source_url", "url", "body")


def _param(name, schema, description, repeat=False):
    p = {"name": name, "in": "query", "required": False, "description": description,
         "schema": {"type": "array", "items": schema} if repeat else schema}
    if repeat:
        p["style"], p["explode"] = "form", True
    return p


_PARTIAL_DATE = {"type": "string", "pattern": r"^\d{4}(-\d{2}(-\d{2})?)?$"}
_ERROR = {"description": "Invalid request",
          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}


def search_parameters() -> list[dict]:
    return [
        _param("q", {"type": "string", "maxLength": P.MAX_QUERY_CHARS},
               'Query: words (ANDed), "phrases", OR, NOT, -word, prefix*, and the fields '
               "headline:, body:, people: (or person:), section:. Empty: browse everything."),
        _param("person", {"type": "string", "maxLength": P.MAX_VALUE_CHARS},
               f"Only articles naming any of these people (up to {P.MAX_FILTER_VALUES}).", True),
        _param("person_match", {"type": "string", "enum": list(P.PERSON_MATCHES),
                                "default": "any"},
               "With several 'person' values: 'any' (the default) finds articles naming any "
               "of them, 'all' only articles naming all of them."),
        _param("section", {"type": "string", "maxLength": P.MAX_VALUE_CHARS},
               f"Only articles in any of these sections (up to {P.MAX_FILTER_VALUES}).", True),
        _param("year", {"type": "integer", "minimum": P.MIN_YEAR, "maximum": P.MAX_YEAR},
               f"Only articles of any of these years (up to {P.MAX_FILTER_VALUES}).", True),
        _param("from", _PARTIAL_DATE, "Earliest date, inclusive: YYYY, YYYY-MM or YYYY-MM-DD."),
        _param("to", _PARTIAL_DATE, "Latest date, inclusive: YYYY, YYYY-MM or YYYY-MM-DD."),
        _param("sort", {"type": "string", "enum": ["relevance", "newest", "oldest"]},
               "Order: relevance (default with a query) or newest (default without); "
               "undated articles come last."),
        _param("page", {"type": "integer", "minimum": 1, "maximum": P.MAX_PAGE, "default": 1},
               f"Page, from 1; page x per_page at most {P.MAX_RESULT_WINDOW}."),
        _param("per_page", {"type": "integer", "minimum": 1, "maximum": P.MAX_PER_PAGE,
                            "default": P.DEFAULT_PER_PAGE}, "Hits per page."),
        _param("facet_size", {"type": "integer", "minimum": 1, "maximum": P.MAX_FACET_SIZE,
                              "default": P.DEFAULT_FACET_SIZE}, "How many people to list."),
    ]


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
        "section": {"type": "string"},
        "url": {"type": "string", "description": "the article's page here"},
        "source_url": {"type": ["string", "null"], "description": "original, http(s) only"},
        "score": {"type": ["number", "null"]}}}
    return {
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
                "summary": "One whole article, with related articles",
                "parameters": [{"name": "id", "in": "path", "required": True,
                                "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The article"},
                              "404": {**_ERROR, "description": "No such article"}}}},
            "/api/export.csv": {"get": {
                "summary": "Every article of a search as CSV, streamed",
                "description": f"The search's parameters (page and per_page are ignored); rows in "
                               f"the search's order, at most {P.EXPORT_CAP:,} (the server's "
                               "EXPORT_CAP). Headers: X-Total-Count (the search's total), "
                               "X-Export-Rows, X-Export-Truncated (true when total > rows). "
                               "Columns: " + ", ".join(_EXPORT_FIELDS) + "; people joined "
                               "with '; '; a cell that would start a spreadsheet formula (= + @) "
                               "is prefixed with '.",
                "parameters": search_parameters(),
                "responses": {"200": {"description": "CSV", "content": {"text/csv": {}}},
                              "400": _ERROR}}},
            "/api/export.jsonl": {"get": {
                "summary": "Every article of a search as JSON Lines, streamed",
                "description": "As /api/export.csv, one JSON object a line (people as a list, "
                               "missing values null).",
                "parameters": search_parameters(),
                "responses": {"200": {"description": "JSON Lines",
                                      "content": {"application/jsonl": {}}},
                              "400": _ERROR}}},
            "/api/people": {"get": {
                "summary": "Look people up by the start of their name or of any word in it",
                "description": "Accents and case are ignored (\"ines\" finds \"Inès\"). Names "
                               "that start with the prefix come first, then those with a later "
                               "word that does; then by articles, most first.",
                "parameters": [
                    {"name": "prefix", "in": "query", "required": True,
                     "schema": {"type": "string", "minLength": 1,
                                "maxLength": P.MAX_PREFIX_CHARS}},
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": P.MAX_LOOKUP,
                                "default": P.DEFAULT_LOOKUP}}],
                "responses": {"200": {"description": "{prefix, people: [{name, count, "
                                                     "search_url, cooccurrence_url}]}"},
                              "400": _ERROR}}},
            "/api/people/{name}/cooccurrence": {"get": {
                "summary": "The people most often named in the same articles as a person",
                "description": "With search parameters, counted within that search's results "
                               "(all its filters); without, over the whole archive.",
                "parameters": [{"name": "name", "in": "path", "required": True,
                                "schema": {"type": "string"}},
                               {"name": "size", "in": "query", "required": False,
                                "schema": {"type": "integer", "minimum": 1,
                                           "maximum": P.MAX_COOCCURRENCE,
                                           "default": P.DEFAULT_COOCCURRENCE}},
                               *[p for p in search_parameters()
                                 if p["name"] not in ("page", "per_page", "facet_size")]],
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
            "Error": {"type": "object", "properties": {"error": {"type": "object", "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "param": {"type": ["string", "null"]}}}}},
            "SearchResult": {"type": "object", "properties": {
                "query": {"type": "object"}, "total": {"type": "integer"},
                "page": {"type": "integer"}, "per_page": {"type": "integer"},
                "pages": {"type": "integer"}, "took_ms": {"type": "number"},
                "hits": {"type": "array", "items": hit},
                "facets": {"type": "object", "properties": {
                    **{k: {"type": "array", "items": facet_value}
                       for k in ("people", "section", "year")},
                    "month": {"type": "array", "items": facet_value,
                              "description": "with exactly one year selected: its twelve "
                                             "months as YYYY-MM; selected when from/to are "
                                             "that month; empty otherwise"}}},
                "undated": {"type": "integer"},
                "timed_out": {"type": "boolean",
                              "description": "ranking hit the time limit: hits are ordered by the query words scored before it"},
                "suggestion": {"type": ["object", "null"], "properties": {
                    "q": {"type": "string"}, "html": {"type": "string"}}}}},
        }},
    }
