"""The Whoosh behaviour this project relies on, checked on the pinned distribution."""

import datetime as dt

import whoosh
from whoosh.qparser import QueryParser
from whoosh.qparser.dateparse import DateParserPlugin
from whoosh.query import And, DateRange, Term

from search.engines.whoosh import store
from search.engines.whoosh.indexer import Indexer
from search.models import Article


def build(tmp_path):
    start = dt.date(2023, 4, 1)
    arts = [Article(id=f"d{i}", headline=f"day {i}", body="tide report", people=(),
                    date=start + dt.timedelta(days=i), section="Local")
            for i in range(100)]
    arts.append(Article(id="undated", headline="no date", body="tide report"))
    with Indexer(tmp_path, batch_size=30) as indexer:
        indexer.upsert(arts)
    return store.open_index(tmp_path)


def test_pinned_distribution():
    assert whoosh.versionstring() == "3.54.0"


def test_date_range_counts(tmp_path):
    ix = build(tmp_path)
    with ix.searcher() as s:
        parser = QueryParser("body", ix.schema)
        parser.add_plugin(DateParserPlugin())
        assert len(s.search(parser.parse("date:[2023-05-01 to 2023-05-31]"), limit=None)) == 31
        q = DateRange("date", dt.datetime(2023, 5, 1), dt.datetime(2023, 5, 31, 23, 59))
        assert len(s.search(And([Term("section", "local"), q]), limit=None)) == 31


def test_open_ended_date_range_sorting_and_the_year_column(tmp_path):
    ix = build(tmp_path)
    with ix.searcher() as s:
        assert len(s.search(DateRange("date", None, dt.datetime(2023, 12, 31)), limit=None)) == 100
        assert len(s.search(DateRange("date", dt.datetime(2024, 1, 1), None), limit=None)) == 0
        # the year is a column only (search.facets filters and counts it): 0 when undated
        years = {s.stored_fields(n)["id"]: y
                 for n, y in enumerate(s.reader().column_reader("year"))}
        assert years["undated"] == 0 and years["d0"] == years["d99"] == 2023
        newest = s.search(Term("body", "tide"), sortedby="date", reverse=True, limit=3)
        ids = [h["id"] for h in newest]
        assert "d99" in ids
        oldest = s.search(Term("body", "tide"), sortedby="date", limit=1)
        assert oldest[0]["id"] in ("d0", "undated")


def test_unchanged_detection_ignores_deleted_documents(tmp_path):
    ix = build(tmp_path)
    ix.close()
    with Indexer(tmp_path) as indexer:
        indexer.delete(["d1"])
    with Indexer(tmp_path) as indexer:
        indexer.upsert([Article(id="d1", headline="day 1", body="tide report",
                                date=dt.date(2023, 4, 2), section="Local")])
    assert indexer.stats.added == 1 and indexer.stats.unchanged == 0
