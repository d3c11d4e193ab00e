import datetime as dt

import pytest

from search.dates import DateParseError, parse_date


@pytest.mark.parametrize("text, expected", [
    ("2024-07-04", dt.date(2024, 7, 4)),
    ("2024-07-04T23:59:00+02:00", dt.date(2024, 7, 4)),
    ("2024-07-04 08:00", dt.date(2024, 7, 4)),
    ("Thu, 04 Jul 2024 10:00:00 +0000", dt.date(2024, 7, 4)),
    ("26-FEB-1987 15:01:01.79", dt.date(1987, 2, 26)),
    ("5-MAR-1987 09:13:50.69 junk after", dt.date(1987, 3, 5)),
    ("July 4, 2024", dt.date(2024, 7, 4)),
    ("4 July 2024", dt.date(2024, 7, 4)),
    ("Jul 4 2024", dt.date(2024, 7, 4)),
    (dt.date(2001, 2, 3), dt.date(2001, 2, 3)),
    (dt.datetime(2001, 2, 3, 4, 5), dt.date(2001, 2, 3)),
])
def test_parses_common_news_dates(text, expected):
    assert parse_date(text) == expected


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_empty_is_undated(empty):
    assert parse_date(empty) is None


@pytest.mark.parametrize("text", [
    "July 2024",  # no day: must not be given one by guess
    "2024",
    "sometime in autumn",
    "2024-02-30",
    "31-FEB-1987 10:00:00.00",
    "tomorrow",
    1720051200,
    "x" * 500,
])
def test_refuses_incomplete_or_invalid_dates(text):
    with pytest.raises(DateParseError):
        parse_date(text)
