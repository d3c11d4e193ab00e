"""Turning untrusted request parameters into a ``SearchRequest``, with every limit in one place.

Each query parameter is declared once, as a ``Param``: the same declaration reads and checks a
request's values (``Param.read``) and describes them in the OpenAPI document
(``Param.openapi``), so the document and the validator cannot disagree: a value the schema
allows is accepted, a value it refuses is answered 400. Both fronts (JSON API and HTML page)
call ``parse_search_params`` with the query string as a mapping of name -> list of values, so
they accept and refuse exactly the same input (the page first drops a form's empty fields).
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass

from search.errors import ParamError
from search.models import SORTS, SearchRequest

MAX_QUERY_CHARS = 500
MAX_FILTER_VALUES = 20
MAX_VALUE_CHARS = 200
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 10
MAX_PAGE = 1000
MAX_FACET_SIZE = 100
DEFAULT_FACET_SIZE = 10
MIN_YEAR, MAX_YEAR = 1000, 2999
PERSON_MATCHES = ("any", "all")
GROUPS = ("story", "none")

# The control characters refused in names and prefixes (C0, DEL and C1): one class for the
# validator and for the schema's pattern
_CONTROL_CLASS = r"\x00-\x1f\x7f-\x9f"
_CONTROL = re.compile(f"[{_CONTROL_CLASS}]")
_NO_CONTROL = r"^[^\u0000-\u001f\u007f-\u009f]*$"
# YYYY, YYYY-MM or YYYY-MM-DD with a year from MIN_YEAR to MAX_YEAR (1000-2999: [12]ddd)
_YEAR, _MONTH, _DAY = r"[12]\d{3}", r"(?:0[1-9]|1[0-2])", r"(?:0[1-9]|[12]\d|3[01])"
# matched with fullmatch: "$" would also let a trailing newline through ("2020\n")
_PARTIAL_DATE = re.compile(rf"({_YEAR})(?:-({_MONTH})(?:-({_DAY}))?)?", re.ASCII)
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


@dataclass(frozen=True)
class Param:
    """One query parameter: how a request's values are checked and how the OpenAPI document
    describes them. ``kind`` is ``text``, ``int``, ``choice`` or ``date``; a ``repeat``
    parameter takes up to ``MAX_FILTER_VALUES`` values (``?year=2020&year=2021``)."""

    name: str
    kind: str
    description: str
    repeat: bool = False
    max_chars: int = MAX_VALUE_CHARS
    min_chars: int = 0
    plain: bool = False  # no control characters
    low: int = 0
    high: int = 0
    choices: tuple[str, ...] = ()
    default: int | str | None = None
    required: bool = False

    # -- reading ---------------------------------------------------------------------------

    def values(self, params: dict[str, list[str]]) -> list:
        """Every value of this parameter in ``params``, checked and converted."""
        raw = [v for v in params.get(self.name) or [] if v is not None]
        if not raw and self.required:
            raise ParamError(self.name, f"give '{self.name}': {self.description}")
        if self.repeat and len(raw) > MAX_FILTER_VALUES:
            raise ParamError(self.name, f"at most {MAX_FILTER_VALUES} '{self.name}' values")
        if not self.repeat and len(raw) > 1:
            raise ParamError(self.name, f"give '{self.name}' at most once")
        return [self.convert(v) for v in raw]

    def read(self, params: dict[str, list[str]]):
        """The one value of a single parameter (its default when absent)."""
        found = self.values(params)
        return found[0] if found else self.default

    def convert(self, raw: str):
        name = self.name
        if self.kind == "text":
            if not self.min_chars <= len(raw) <= self.max_chars:
                size = (f"at most {self.max_chars}" if not self.min_chars
                        else f"{self.min_chars} to {self.max_chars}")
                raise ParamError(name, f"'{name}' must be {size} characters (got {len(raw)})")
            if self.plain and _CONTROL.search(raw):
                raise ParamError(name, f"'{name}' must not contain control characters")
            return raw
        if self.kind == "int":
            # ASCII digits only: int() also reads "١٢" and " 7", isdigit() accepts "²"; and a
            # value of thousands of digits is refused before int() could choke on it
            digits = raw.lstrip("0") or "0"
            if not _DIGITS.fullmatch(raw) or len(digits) > 9 or not self.low <= int(digits) <= self.high:
                raise ParamError(name, f"'{name}' must be a whole number from {self.low} to "
                                       f"{self.high} (got {raw[:20]!r})")
            return int(digits)
        if self.kind == "choice":
            if raw not in self.choices:
                raise ParamError(name, f"'{name}' must be one of {', '.join(self.choices)} "
                                       f"(got {raw[:20]!r})")
            return raw
        if self.kind == "date":
            return parse_partial_date(raw, name, end=name == "to")
        raise AssertionError(self.kind)

    # -- describing ------------------------------------------------------------------------

    def schema(self) -> dict:
        """The JSON Schema of one value."""
        if self.kind == "text":
            s = {"type": "string", "maxLength": self.max_chars}
            if self.min_chars:
                s["minLength"] = self.min_chars
            if self.plain:
                s["pattern"] = _NO_CONTROL
        elif self.kind == "int":
            s = {"type": "integer", "minimum": self.low, "maximum": self.high}
        elif self.kind == "choice":
            s = {"type": "string", "enum": list(self.choices)}
        else:
            # the pattern for the shape, format "date" for a real day (no 2021-02-30)
            s = {"type": "string", "anyOf": [
                {"pattern": rf"^{_YEAR}(-{_MONTH})?$"},
                {"pattern": rf"^{_YEAR}-{_MONTH}-{_DAY}$", "format": "date"}]}
        if self.default is not None and not self.repeat:
            s["default"] = self.default
        return s

    def openapi(self) -> dict:
        """This parameter as an OpenAPI 3.1 query parameter object."""
        schema = self.schema()
        p = {"name": self.name, "in": "query", "required": self.required,
             "description": self.description}
        if self.repeat:
            p["schema"] = {"type": "array", "items": schema, "maxItems": MAX_FILTER_VALUES}
            p["style"], p["explode"] = "form", True
        else:
            p["schema"] = schema
        return p


def parse_partial_date(raw: str, name: str, end: bool) -> dt.date:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; a partial date is its first (or last) day."""
    m = _PARTIAL_DATE.fullmatch(raw)
    if not m:
        raise ParamError(name, f"'{name}' must be YYYY, YYYY-MM or YYYY-MM-DD with a year from "
                               f"{MIN_YEAR} to {MAX_YEAR} (got {raw[:40]!r})")
    year = int(m[1])
    month = int(m[2]) if m[2] else (12 if end else 1)
    try:
        if m[3]:
            return dt.date(year, month, int(m[3]))
        day = calendar.monthrange(year, month)[1] if end else 1
        return dt.date(year, month, day)
    except ValueError:
        raise ParamError(name, f"'{name}' is not a real date (got {raw[:40]!r})") from None


SEARCH_PARAMS = (
    Param("q", "text", 'Query: words (ANDed, stemmed: "election" finds "elections"), '
          '"phrases", OR, NOT, -word, prefix*, and the fields headline:, body:, people: (or '
          "person:), org:, place:, section:. Researchers' operators: proximity "
          '"bank rates"~5 or bank NEAR/5 rates (within 5 words, any order); fuzzy gorbachov~ '
          "or gorbachov~2 (1 or 2 letters different); date:1987, date:1987-03 or "
          "date:[1987-03-01 TO 1987-06-30] (ANDed with from and to); exact:running (that "
          "form only, no stemming). Empty: browse everything.",
          max_chars=MAX_QUERY_CHARS),
    Param("person", "text", f"Only articles naming any of these people (up to "
          f"{MAX_FILTER_VALUES}; an empty value is ignored).", repeat=True, plain=True),
    Param("person_match", "choice", "With several 'person' values: 'any' (the default) finds "
          "articles naming any of them, 'all' only articles naming all of them.",
          choices=PERSON_MATCHES, default="any"),
    Param("organization", "text", f"Only articles naming any of these organisations (up to "
          f"{MAX_FILTER_VALUES}; an empty value is ignored).", repeat=True, plain=True),
    Param("place", "text", f"Only articles naming any of these places (up to "
          f"{MAX_FILTER_VALUES}; an empty value is ignored).", repeat=True, plain=True),
    Param("section", "text", f"Only articles in any of these sections (up to "
          f"{MAX_FILTER_VALUES}; an empty value is ignored).", repeat=True, plain=True),
    Param("year", "int", f"Only articles of any of these years (up to {MAX_FILTER_VALUES}).",
          repeat=True, low=MIN_YEAR, high=MAX_YEAR),
    Param("from", "date", "Earliest date, inclusive: YYYY, YYYY-MM or YYYY-MM-DD."),
    Param("to", "date", "Latest date, inclusive: YYYY, YYYY-MM or YYYY-MM-DD. Before 'from': "
          "nothing is found, and query.notes says why."),
    Param("sort", "choice", "Order: relevance (the default with a query) or newest (the "
          "default without); undated articles come last.", choices=SORTS),
    Param("page", "int", "Page, from 1; a page past the last has no hits.", low=1,
          high=MAX_PAGE, default=1),
    Param("per_page", "int", "Hits per page.", low=1, high=MAX_PER_PAGE,
          default=DEFAULT_PER_PAGE),
    Param("facet_size", "int", "How many people, organisations and places to list.", low=1,
          high=MAX_FACET_SIZE, default=DEFAULT_FACET_SIZE),
    Param("group", "choice", "story (the default): one hit per story, its best-ranked "
          "version, with the story's number of versions; paging walks stories. none: every "
          "article. Facet counts are counts of articles either way.", choices=GROUPS,
          default="story"),
)
PARAMS = tuple(p.name for p in SEARCH_PARAMS)
# the parameters that narrow what a search counts (paging, sorting, grouping and the facets'
# sizes do not): what trends take beside their queries
FILTER_PARAMS = ("person", "person_match", "organization", "place", "section", "year", "from",
                 "to")
_SEARCH = {p.name: p for p in SEARCH_PARAMS}


def _names(values: list[str]) -> tuple[str, ...]:
    """Filter values without their surrounding spaces, empty ones and repeats."""
    return tuple(dict.fromkeys(v.strip() for v in values if v.strip()))


def parse_search_params(params: dict[str, list[str]]) -> SearchRequest:
    """Validate ``params`` (name -> list of values); ``ParamError`` names the first bad one."""
    got = {p.name: p.values(params) if p.repeat else p.read(params) for p in SEARCH_PARAMS}
    return SearchRequest(q=got["q"] or "", person=_names(got["person"]),
                         person_match=got["person_match"],
                         organization=_names(got["organization"]), place=_names(got["place"]),
                         section=_names(got["section"]),
                         year=tuple(dict.fromkeys(got["year"])), date_from=got["from"],
                         date_to=got["to"], sort=got["sort"], page=got["page"],
                         per_page=got["per_page"], facet_size=got["facet_size"],
                         group=got["group"])


# -- the other endpoints ---------------------------------------------------------------------

MAX_PREFIX_CHARS = 100
DEFAULT_LOOKUP = 10
MAX_LOOKUP = 50
DEFAULT_COOCCURRENCE = 20
MAX_COOCCURRENCE = 100
EXPORT_CAP = 10_000  # rows in one export; X-Export-Truncated says when a search has more

PREFIX = Param("prefix", "text", "The start of a name, or of any word in it.", required=True,
               min_chars=1, max_chars=MAX_PREFIX_CHARS, plain=True)
LIMIT = Param("limit", "int", "How many names to list.", low=1, high=MAX_LOOKUP,
              default=DEFAULT_LOOKUP)
SIZE = Param("size", "int", "How many people to list.", low=1, high=MAX_COOCCURRENCE,
             default=DEFAULT_COOCCURRENCE)
# a co-occurrence list is counted within a search: its filters, not its paging
COOCCURRENCE_PARAMS = (SIZE, *(p for p in SEARCH_PARAMS
                               if p.name not in ("page", "per_page", "facet_size", "group")))


def parse_lookup_params(params: dict[str, list[str]]) -> tuple[str, int]:
    """``prefix`` (required, 1-100 characters, no control characters; spaces around it are
    ignored) and ``limit`` (1-50, default 10)."""
    return PREFIX.read(params).strip(), LIMIT.read(params)


def parse_size(params: dict[str, list[str]]) -> int:
    """``size`` of a co-occurrence list (1-100, default 20)."""
    return SIZE.read(params)


def has_search_params(params: dict[str, list[str]]) -> bool:
    """Whether ``params`` narrow the archive at all (a query or a filter)."""
    return any((v or "").strip() for name in ("q", "person", "organization", "place", "section",
                                              "year", "from", "to")
               for v in params.get(name) or [])
