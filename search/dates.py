"""Turning the many ways news records write dates into a ``datetime.date`` -- never by guess.

``parse_date`` accepts ISO 8601 (with or without time and zone), RFC 2822, Reuters'
``26-FEB-1987 15:01:01.79`` (with its trailing junk) and written dates such as "July 4, 2024" or
"4 July 2024". Anything that does not name a year, a month and a day is refused with
``DateParseError``: a partial date such as "July 2024" is not silently given a day.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import re

from dateutil import parser as _dateutil

_REUTERS = re.compile(r"^\s*(\d{1,2})-([A-Za-z]{3})-(\d{4})\b")
_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_ISO = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:$|[T ]\d)")
# Two defaults that differ in every component: a component dateutil filled in from the default
# (because the text did not name it) shows up as a difference between the two parses.
_DEFAULT_A = dt.datetime(1904, 1, 1)
_DEFAULT_B = dt.datetime(1908, 2, 2)
MIN_YEAR, MAX_YEAR = 1000, 2999


class DateParseError(ValueError):
    """The text is not a complete calendar date."""


def _checked(year: int, month: int, day: int, text: str) -> dt.date:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise DateParseError(f"year out of range in date {text!r}")
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise DateParseError(f"invalid date {text!r}: {exc}") from None


def parse_date(value: object) -> dt.date | None:
    """Return the date ``value`` names, ``None`` for an empty value, or raise ``DateParseError``."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise DateParseError(f"a bare number is not a date: {value!r}")
    text = str(value).strip()
    if not text:
        return None
    if len(text) > 100:
        raise DateParseError(f"date text too long ({len(text)} characters)")

    m = _ISO.match(text)
    if m:
        return _checked(int(m[1]), int(m[2]), int(m[3]), text)
    m = _REUTERS.match(text)
    if m and m[2].upper() in _MONTHS:
        return _checked(int(m[3]), _MONTHS[m[2].upper()], int(m[1]), text)
    try:
        parsed = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        parsed = None
    if parsed is not None:
        return _checked(parsed.year, parsed.month, parsed.day, text)
    try:
        a = _dateutil.parse(text, default=_DEFAULT_A)
        b = _dateutil.parse(text, default=_DEFAULT_B)
    except (ValueError, OverflowError) as exc:
        raise DateParseError(f"unparseable date {text!r}") from exc
    if (a.year, a.month, a.day) != (b.year, b.month, b.day):
        raise DateParseError(f"incomplete date {text!r} (needs year, month and day)")
    return _checked(a.year, a.month, a.day, text)
