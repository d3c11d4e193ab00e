"""The same results page computed with SQLite FTS5, for reference in ``bench.search_bench``.

The articles go into a plain table, an external-content FTS5 index over headline and body
(``porter unicode61``, as close to Whoosh's stemming analyzer as FTS5 comes) and a table of
(article, person). A page is: the matching rowids into a temporary table, the total with every
filter, each facet with every filter but its own (multi-select, like the service), the top 10
by ``bm25(fts, 2.0, 1.0)`` (headline weighted twice, as in the Whoosh schema) or by date, and
``highlight``/``snippet`` for those 10. It answers the workload's queries (words, phrases,
``prefix*``), not the service's full query syntax.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from search.models import Article, SearchRequest

SCHEMA = """
CREATE TABLE articles (rowid INTEGER PRIMARY KEY, id TEXT UNIQUE, headline TEXT, body TEXT,
                       day TEXT, year INTEGER, section TEXT);
CREATE TABLE people (doc INTEGER, name TEXT, key TEXT);
CREATE VIRTUAL TABLE fts USING fts5(headline, body, content='articles', content_rowid='rowid',
                                    tokenize='porter unicode61');
"""
INDEXES = """
CREATE INDEX people_key ON people (key, doc);
CREATE INDEX people_doc ON people (doc);
CREATE INDEX articles_section ON articles (section);
CREATE INDEX articles_day ON articles (day);
"""


def build(articles, path: Path) -> sqlite3.Connection:
    """Load ``articles`` into a new database at ``path``."""
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)
    with conn:
        for n, a in enumerate(articles, start=1):
            _insert(conn, n, a)
        conn.execute("INSERT INTO fts(fts) VALUES ('rebuild')")
        conn.executescript(INDEXES)
    conn.execute("ANALYZE")
    return conn


def _insert(conn: sqlite3.Connection, rowid: int, a: Article) -> None:
    conn.execute("INSERT INTO articles VALUES (?, ?, ?, ?, ?, ?, ?)",
                 (rowid, a.id, a.headline, a.body, a.date.isoformat() if a.date else None,
                  a.date.year if a.date else None, a.section.casefold() or None))
    conn.executemany("INSERT INTO people VALUES (?, ?, ?)",
                     [(rowid, p, p.casefold()) for p in a.people])


def _match_text(q: str) -> str:
    # FTS5 reads bare words, "phrases" and word* like the service; other characters are quoted
    parts = re.findall(r'"[^"]*"|\S+', q)
    out = []
    for part in parts:
        if part.startswith('"'):
            out.append(part)
        elif re.fullmatch(r"\w+\*?", part):
            out.append(part)
        else:
            out.append('"' + part.replace('"', '""') + '"')
    return " ".join(out)


def page(conn: sqlite3.Connection, req: SearchRequest) -> int:
    """One results page for ``req``: total, three facets, 10 hits with highlights."""
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS temp.m")
    if req.q.strip():
        cur.execute("CREATE TEMP TABLE m AS SELECT rowid AS doc, bm25(fts, 2.0, 1.0) AS score "
                    "FROM fts WHERE fts MATCH ?", (_match_text(req.q),))
    else:
        cur.execute("CREATE TEMP TABLE m AS SELECT rowid AS doc, 0.0 AS score FROM articles")
    filters: dict[str, tuple[str, list]] = {}
    if req.person:
        marks = ",".join("?" * len(req.person))
        filters["person"] = (f"m.doc IN (SELECT doc FROM people WHERE key IN ({marks}))",
                             [p.casefold() for p in req.person])
    if req.section:
        marks = ",".join("?" * len(req.section))
        filters["section"] = (f"a.section IN ({marks})", [s.casefold() for s in req.section])
    if req.year:
        marks = ",".join("?" * len(req.year))
        filters["year"] = (f"a.year IN ({marks})", list(req.year))
    if req.date_from or req.date_to:
        filters["dates"] = ("a.day BETWEEN ? AND ?",
                            [req.date_from.isoformat() if req.date_from else "0000",
                             req.date_to.isoformat() if req.date_to else "9999"])

    def where(*skip: str) -> tuple[str, list]:
        chosen = [f for name, f in filters.items() if name not in skip]
        sql = " AND ".join(f[0] for f in chosen) or "1"
        return sql, [v for f in chosen for v in f[1]]

    base = "FROM m JOIN articles a ON a.rowid = m.doc"
    sql, args = where()
    total = cur.execute(f"SELECT count(*) {base} WHERE {sql}", args).fetchone()[0]
    sql, args = where("person")
    cur.execute(f"SELECT p.name, count(*) AS n {base} JOIN people p ON p.doc = m.doc WHERE {sql} "
                "GROUP BY p.key ORDER BY n DESC, p.name LIMIT 10", args).fetchall()
    sql, args = where("section")
    cur.execute(f"SELECT a.section, count(*) AS n {base} WHERE {sql} AND a.section IS NOT NULL "
                "GROUP BY a.section ORDER BY n DESC", args).fetchall()
    sql, args = where("year")
    cur.execute(f"SELECT a.year, count(*) {base} WHERE {sql} GROUP BY a.year", args).fetchall()
    sql, args = where()
    sort = req.effective_sort
    order = {"relevance": "m.score, a.rowid", "newest": "a.day IS NULL, a.day DESC, a.rowid",
             "oldest": "a.day IS NULL, a.day, a.rowid"}[sort]
    top = [r[0] for r in cur.execute(
        f"SELECT m.doc {base} WHERE {sql} ORDER BY {order} LIMIT 10", args)]
    if top and req.q.strip():
        marks = ",".join("?" * len(top))
        cur.execute("SELECT rowid, highlight(fts, 0, '<mark>', '</mark>'), "
                    "snippet(fts, 1, '<mark>', '</mark>', '…', 48) FROM fts "
                    f"WHERE fts MATCH ? AND rowid IN ({marks})",
                    [_match_text(req.q), *top]).fetchall()
    elif top:
        marks = ",".join("?" * len(top))
        cur.execute(f"SELECT rowid, headline, substr(body, 1, 300) FROM articles "
                    f"WHERE rowid IN ({marks})", top).fetchall()
    return total
