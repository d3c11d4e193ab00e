"""Trends over time: how many articles match a query in each year, month, week or day, beside
how many match the filters alone (the denominator), every bucket of the range present.

Here: the buckets and their bounds, shared. Each engine counts them over the same selections
as its searches (the Whoosh engine from its per-document date arrays, the Xapian engine from a
match spy on each article's day), so a point's ``count`` is exactly ``/api/search``'s
``total`` for that query with ``from`` and ``to`` set to the bucket's first and last day.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass

import numpy as np

INTERVALS = ("year", "month", "week", "day")  # longest first
MAX_SERIES = 8
MAX_BUCKETS = 5_000  # 40 years of weeks fit; 40 years of days do not


@dataclass(frozen=True)
class Point:
    label: str  # "1987", "1987-03", the week's Monday "1987-03-02", or the day
    first: dt.date
    last: dt.date
    count: int
    total: int

    @property
    def share(self) -> float:
        return self.count / self.total if self.total else 0.0

    def to_dict(self) -> dict:
        return {"date": self.label, "from": self.first.isoformat(), "to": self.last.isoformat(),
                "count": self.count, "total": self.total, "share": self.share}


@dataclass(frozen=True)
class Series:
    q: str
    points: tuple[Point, ...]
    undated: int  # articles matching q and the filters that have no date
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"q": self.q, "points": [p.to_dict() for p in self.points],
                "undated": self.undated, "notes": list(self.notes)}


@dataclass(frozen=True)
class Trends:
    interval: str  # the one counted by (longer than asked when the range needs it)
    series: tuple[Series, ...]
    undated: int  # articles matching the filters alone that have no date
    notes: tuple[str, ...] = ()


def buckets_of(interval: str, day: np.ndarray, year: np.ndarray, month: np.ndarray) \
        -> np.ndarray:
    """Each document's bucket number: the year; year * 12 + month - 1; the week (day // 7:
    0001-01-01 was a Monday, so weeks run Monday to Sunday); the day."""
    if interval == "year":
        return year.astype(np.int64)
    if interval == "month":
        return year.astype(np.int64) * 12 + month.astype(np.int64) - 1
    if interval == "week":
        return day.astype(np.int64) // 7
    return day.astype(np.int64)


def bucket_of_date(interval: str, date: dt.date) -> int:
    from search.query import date_to_day

    day = date_to_day(date)
    return int(buckets_of(interval, np.array([day]), np.array([date.year]),
                          np.array([date.month]))[0])


def bucket_bounds(interval: str, bucket: int) -> tuple[str, dt.date, dt.date]:
    """(label, first day, last day) of a bucket number."""
    if interval == "year":
        return str(bucket), dt.date(bucket, 1, 1), dt.date(bucket, 12, 31)
    if interval == "month":
        y, m = divmod(bucket, 12)
        m += 1
        return f"{y:04d}-{m:02d}", dt.date(y, m, 1), dt.date(y, m, calendar.monthrange(y, m)[1])
    if interval == "week":
        first = dt.date.fromordinal(bucket * 7 + 1)
        return first.isoformat(), first, min(first + dt.timedelta(days=6), dt.date.max)
    day = dt.date.fromordinal(bucket + 1)
    return day.isoformat(), day, day


def clipped_bounds(interval: str, lo: int, hi: int, date_from: dt.date | None,
                   date_to: dt.date | None) -> list[tuple[str, dt.date, dt.date]]:
    """(label, first day, last day) of buckets ``lo`` to ``hi``, within ``date_from`` and
    ``date_to`` (a range's first week or month may begin before 'from': its count is of the
    days inside, and so its bounds)."""
    return [(label, max(first, date_from) if date_from else first,
             min(last, date_to) if date_to else last)
            for label, first, last in (bucket_bounds(interval, b) for b in range(lo, hi + 1))]


def bucket_range(interval: str, date_from: dt.date | None, date_to: dt.date | None,
                 extent) -> tuple[str, int, int, list[str]]:
    """(the interval counted by, the first bucket, the last, notes) of a trends request: the
    range is ``date_from``-``date_to`` where given, else ``extent(interval)`` (the first and
    last bucket of the dated articles the filters select, or None when there are none); no
    bucket is (0, -1). When the range holds more than ``MAX_BUCKETS`` buckets, the next longer
    interval is used, and a note says so."""
    asked = interval
    while True:
        found = extent(interval) if not (date_from and date_to) else None
        lo = bucket_of_date(interval, date_from) if date_from else (found[0] if found else None)
        hi = bucket_of_date(interval, date_to) if date_to else (found[1] if found else None)
        if lo is None or hi is None or lo > hi:
            lo, hi = 0, -1  # no bucket
        if hi - lo + 1 <= MAX_BUCKETS or interval == "year":  # (years 1000-2999 always fit)
            break
        # too many buckets for one answer: the next longer interval, said in a note
        interval = INTERVALS[INTERVALS.index(interval) - 1]
    notes = [] if interval == asked else [
        f"by {asked}, the range would have more than {MAX_BUCKETS:,} buckets: counted by "
        f"{interval} instead (narrow 'from' and 'to' to count by {asked})"]
    return interval, lo, hi, notes
