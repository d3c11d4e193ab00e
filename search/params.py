"""Turning untrusted request parameters into a ``SearchRequest``, with every limit in one place.

Both fronts (JSON API and HTML page) call ``parse_search_params`` with the query string as a
mapping of name -> list of values, so they accept and refuse exactly the same input.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

from search.errors import ParamError
from search.models import SORTS, SearchRequest

MAX_QUERY_CHARS = 500
MAX_FILTER_VALUES = 20
MAX_VALUE_CHARS = 200
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 10
MAX_PAGE = 1000
MAX_RESULT_WINDOW = 10_000  # page * per_page
MAX_FACET_SIZE = 100
DEFAULT_FACET_SIZE = 10
MIN_YEAR, MAX_YEAR = 1000, 2999

PARAMS = ("q", "person", "person_match", "section", "year", "from", "to", "sort", "page",
          "per_page", "facet_size")
PERSON_MATCHES = ("any", "all")
REPEATABLE = ("person", "section", "year")

_PARTIAL_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _single(params: dict, name: str) -> str | None:
    values = params.get(name) or []
    values = [v for v in values if v is not None]
    if len(values) > 1:
        raise ParamError(name, f"give '{name}' at most once")
    return values[0] if values else None


def _int(params: dict, name: str, default: int, low: int, high: int) -> int:
    raw = _single(params, name)
    if raw is None or raw.strip() == "":
        return default
    raw = raw.strip()
    # ASCII digits only: int() also reads "١٢" and isdigit() accepts "²", which int() refuses
    if not (raw.isascii() and raw.isdigit()):
        raise ParamError(name, f"'{name}' must be a whole number from {low} to {high}")
    value = int(raw)
    if not low <= value <= high:
        raise ParamError(name, f"'{name}' must be from {low} to {high} (got {value})")
    return value


def parse_partial_date(raw: str, name: str, end: bool) -> dt.date:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``; a partial date is its first (or last) day."""
    m = _PARTIAL_DATE.match(raw.strip())
    if not m:
        raise ParamError(name, f"'{name}' must be YYYY, YYYY-MM or YYYY-MM-DD (got {raw[:40]!r})")
    year = int(m[1])
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ParamError(name, f"'{name}' year must be from {MIN_YEAR} to {MAX_YEAR}")
    month = int(m[2]) if m[2] else (12 if end else 1)
    try:
        if m[3]:
            return dt.date(year, month, int(m[3]))
        day = calendar.monthrange(year, month)[1] if end else 1
        return dt.date(year, month, day)
    except (ValueError, calendar.IllegalMonthError):
        raise ParamError(name, f"'{name}' is not a real date (got {raw[:40]!r})") from None


def _values(params: dict, name: str) -> list[str]:
    values = [v.strip() for v in (params.get(name) or []) if v is not None and v.strip()]
    if len(values) > MAX_FILTER_VALUES:
        raise ParamError(name, f"at most {MAX_FILTER_VALUES} '{name}' values")
    for v in values:
        if len(v) > MAX_VALUE_CHARS or _CONTROL.search(v):
            raise ParamError(name, f"each '{name}' value must be at most {MAX_VALUE_CHARS} "
                                   "characters with no control characters")
    return list(dict.fromkeys(values))


def parse_search_params(params: dict[str, list[str]]) -> SearchRequest:
    """Validate ``params`` (name -> list of values); ``ParamError`` names the first bad one."""
    q = _single(params, "q") or ""
    if len(q) > MAX_QUERY_CHARS:
        raise ParamError("q", f"'q' must be at most {MAX_QUERY_CHARS} characters "
                              f"(got {len(q)})")
    people = _values(params, "person")
    sections = _values(params, "section")
    years = []
    for raw in _values(params, "year"):
        if not (raw.isascii() and raw.isdigit()) or not MIN_YEAR <= int(raw) <= MAX_YEAR:
            raise ParamError("year", f"'year' must be a year from {MIN_YEAR} to {MAX_YEAR} "
                                     f"(got {raw[:20]!r})")
        years.append(int(raw))
    raw_from, raw_to = _single(params, "from"), _single(params, "to")
    date_from = parse_partial_date(raw_from, "from", end=False) if raw_from and raw_from.strip() else None
    date_to = parse_partial_date(raw_to, "to", end=True) if raw_to and raw_to.strip() else None
    if date_from and date_to and date_from > date_to:
        raise ParamError("to", "'to' must not be before 'from'")
    sort = (_single(params, "sort") or "").strip().lower() or None
    if sort is not None and sort not in SORTS:
        raise ParamError("sort", f"'sort' must be one of {', '.join(SORTS)}")
    per_page = _int(params, "per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    page = _int(params, "page", 1, 1, MAX_PAGE)
    if page * per_page > MAX_RESULT_WINDOW:
        raise ParamError("page", f"page x per_page must be at most {MAX_RESULT_WINDOW:,}; "
                                 "narrow the search instead of paging this deep")
    facet_size = _int(params, "facet_size", DEFAULT_FACET_SIZE, 1, MAX_FACET_SIZE)
    person_match = (_single(params, "person_match") or "").strip().lower() or "any"
    if person_match not in PERSON_MATCHES:
        raise ParamError("person_match", "'person_match' must be 'any' (articles naming any of "
                                         "the people given) or 'all' (naming all of them)")
    return SearchRequest(q=q, person=tuple(people), person_match=person_match,
                         section=tuple(sections),
                         year=tuple(dict.fromkeys(years)), date_from=date_from, date_to=date_to,
                         sort=sort, page=page, per_page=per_page, facet_size=facet_size)


# -- the other endpoints ---------------------------------------------------------------------

MAX_PREFIX_CHARS = 100
DEFAULT_LOOKUP = 10
MAX_LOOKUP = 50
DEFAULT_COOCCURRENCE = 20
MAX_COOCCURRENCE = 100
EXPORT_CAP = 10_000  # rows in one export; X-Export-Truncated says when a search has more


def parse_lookup_params(params: dict[str, list[str]]) -> tuple[str, int]:
    """``prefix`` (required, at most 100 characters) and ``limit`` (1-50, default 10)."""
    prefix = (_single(params, "prefix") or "").strip()
    if not prefix:
        raise ParamError("prefix", "give 'prefix': the start of a name, or of any word in it")
    if len(prefix) > MAX_PREFIX_CHARS or _CONTROL.search(prefix):
        raise ParamError("prefix", f"'prefix' must be at most {MAX_PREFIX_CHARS} characters "
                                   "with no control characters")
    return prefix, _int(params, "limit", DEFAULT_LOOKUP, 1, MAX_LOOKUP)


def parse_size(params: dict[str, list[str]]) -> int:
    """``size`` of a co-occurrence list (1-100, default 20)."""
    return _int(params, "size", DEFAULT_COOCCURRENCE, 1, MAX_COOCCURRENCE)


def has_search_params(params: dict[str, list[str]]) -> bool:
    """Whether ``params`` narrow the archive at all (a query or a filter)."""
    return any((v or "").strip() for name in ("q", "person", "section", "year", "from", "to")
               for v in params.get(name) or [])
