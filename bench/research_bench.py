"""Research tools' speed on an index, as issue 17 asks: trends of 4 queries by month over the
archive's whole range, keyword in context (100 lines, the search's order) and what stands out
(10 of each kind), each timed through the core (``Archive.trends``, ``.kwic``,
``.significant``) and through its API (``/api/trends``, ``/api/kwic``, ``/api/significant``,
by Flask's test client: the JSON built, no network).

    python -m bench.research_bench INDEX [--queries FILE] [--rounds 30]

``INDEX``: an index folder, such as the one ``python -m bench.peers --size 200000`` leaves in
``bench/out/peers/synth200000.project``. ``--queries``: that run's query file
(``synth200000.q300.json``); without it, common and rare words of the index's own
(``index_words``). Its one-word queries (common and rare) are taken four at a time,
so that each request is new to the process; KWIC and significant terms take one word a request,
each word new to what it times. Prints p50 and p95 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

from bench.perf import pct
from search.params import parse_search_params
from search.service import Archive


def index_words(index: Path, count: int = 300, seed: int = 17) -> list[str]:
    """``count`` words of the index's own, half common (the 100th to 400th most frequent
    body words that are in under 60% of the articles) and half rare (in 3 to 30 articles),
    alternated in a seeded order."""
    import random

    from search.engines.whoosh import store

    ix = store.open_index(index)
    try:
        with ix.searcher() as s:
            reader = s.reader()
            n = s.doc_count()
            terms = sorted(((reader.doc_frequency("body", t), t) for t in reader.field_terms("body")
                            if t.isalpha() and len(t) > 3), reverse=True)
    finally:
        ix.close()
    rng = random.Random(seed)
    common = [t for df, t in terms[100:400] if df < n * 0.6]
    rare = [t for df, t in terms if 3 <= df <= 30]
    rng.shuffle(common)
    rng.shuffle(rare)
    half = count // 2
    return [w for pair in zip(common[:half], rare[:half]) for w in pair]


def words_from(path: Path | None, index: Path | None = None) -> list[str]:
    if path is None:
        return index_words(index)
    data = json.loads(path.read_text(encoding="utf-8"))
    items = data if isinstance(data, list) else data.get("queries", [])
    # the query set's one-word queries, common and rare (bench.peers' file: {"kind", "text",
    # "phrase", ...})
    return [item["text"] for item in items if isinstance(item, dict)
            and item.get("kind") in ("common", "rare") and not item.get("phrase")
            and str(item.get("text", "")).isalpha()]


def summary(values: list[float]) -> dict:
    return {"p50": round(statistics.median(values), 1), "p95": round(pct(values, 95), 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("index", type=Path)
    ap.add_argument("--queries", type=Path)
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args(argv)
    print(json.dumps(measure(args.index, words_from(args.queries, args.index), args.rounds)))
    return 0


def measure(index: Path, words: list[str], rounds: int) -> dict:
    """The figures of one run (``bench.perf`` calls this on the index it measured)."""
    if len(words) < 4 * rounds:
        words = (words * (4 * rounds // max(len(words), 1) + 1))
    archive = Archive(index)
    started = time.perf_counter()
    archive.warm()
    warm_ms = round((time.perf_counter() - started) * 1000)
    request = parse_search_params({})
    core, points = [], 0
    for i in range(rounds):
        queries = words[4 * i:4 * i + 4]
        t = time.perf_counter()
        found = archive.trends(queries, request, "month")
        core.append((time.perf_counter() - t) * 1000)
        points = len(found.series[0].points)
    from web import create_app

    app = create_app({"NEWS_INDEX": str(index), "TESTING": True})
    client = app.test_client()
    client.get("/api/trends?interval=year")  # the app's own archive warms up
    api = []
    for i in range(rounds):
        queries = words[4 * (rounds + i) % len(words):][:4] or words[:4]
        t = time.perf_counter()
        resp = client.get("/api/trends?" + urlencode([("q", q) for q in queries]
                                                     + [("interval", "month")]))
        api.append((time.perf_counter() - t) * 1000)
        assert resp.status_code == 200, resp.get_json()
    figures = {"index": str(index), "rounds": rounds, "warm_ms": warm_ms, "months": points,
               "trends": {"core_ms": summary(core), "api_ms": summary(api)}}
    # one word a request, each new to what is timed (the trends took words[:8 * rounds])
    fresh = iter(words[8 * rounds:] + words[:8 * rounds])

    def timed(call) -> list[float]:
        out = []
        for _ in range(rounds):
            word = next(fresh)
            t = time.perf_counter()
            call(word)
            out.append((time.perf_counter() - t) * 1000)
        return out

    def api_get(path):
        def get(word):
            resp = client.get(path + urlencode({"q": word}))
            assert resp.status_code == 200, resp.get_json()
        return get

    figures["kwic"] = {
        "core_ms": summary(timed(lambda w: archive.kwic(parse_search_params({"q": [w]}),
                                                        "order", 100))),
        "api_ms": summary(timed(api_get("/api/kwic?")))}
    figures["significant"] = {
        "core_ms": summary(timed(lambda w: archive.significant(
            parse_search_params({"q": [w]}), 10))),
        "api_ms": summary(timed(api_get("/api/significant?")))}
    app.extensions["archive"].close()
    archive.close()
    return figures


if __name__ == "__main__":
    sys.exit(main())
