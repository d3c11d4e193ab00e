"""Speed next to the peers: this project, tantivy and SQLite FTS5 on one corpus, one query set.

    python -m bench.peers                      # 20,000 synthetic articles (a few minutes)
    python -m bench.peers --size 200000        # or 1000000; --reuters for Reuters-21578
    options: --workdir bench/out/peers  --queries 300  --json FILE  --http  --no-build

The reference engines, the corpus generator and the query generator are ../shared/bench's
(``engines.py``, ``prep_corpus.py``, ``make_queries.py``), imported or run at benchmark time and
never copied here. One run:

- builds the corpus (``synthN.jsonl`` of real sentences, Zipf people, 12 sections, 1987-2025;
  or Reuters-21578) and 300 queries: 40% common terms, 30% rare, 20% two-word phrases, 10% a
  term with a person and a date range;
- ingests it into each engine in a process of its own, timed end to end: the project through
  ``ingest.py`` as a user runs it with ``--people never`` (people given; organisations and
  places, which the corpus lacks, not extracted), tantivy and FTS5 through
  their reference ``build``;
- starts one query process per engine (the project's opens its ``Archive`` and builds its facet
  arrays, as a web worker does before its first request) and sends every query to every engine,
  interleaved query by query (in an order drawn for each query with a fixed seed), twice: the first answer is the query
  seen for the first time, the second the same query repeated;
- with ``--http``, also the project's ``/api/search`` and its HTML results page (``/?q=``) from
  ``python -m web`` (a server of one worker for each, so that the repeat reaches the process
  that saw the query first, and neither sees a query the other answered).

Every answer records which engine answered just before it. The engines share one page cache,
and a query process that comes right after SQLite FTS5's (which reads gigabytes for a common word
at a million articles) finds much of its own index evicted: the report gives each engine's
first-sight p95 apart for the answers that came right after FTS5's and for the others, since
the rotation puts some engines after FTS5 more often than others.

A page is the whole results page of each engine: the project's ``Archive.search`` (10 hits with
highlighted headline and snippet, people/section/year multi-select facets, month histogram,
suggestions when needed); the reference engines' ``page`` (10 hits with a snippet, people,
section and year counts). The figures are medians and p95 per query kind, and the median over
queries of the per-query ratio project / peer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
ENGINES = ("project", "tantivy", "sqlite_fts5")
KINDS = ("common", "rare", "phrase", "filter")


def _shared_bench() -> Path:
    path = Path(os.environ.get("NEWS_SHARED_BENCH", SHARED / "bench"))
    if not (path / "engines.py").exists():
        sys.exit(f"{path}/engines.py not found: the reference engines live in ../shared/bench")
    return path


def _engines_module():
    spec = importlib.util.spec_from_file_location("shared_engines",
                                                  _shared_bench() / "engines.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the query processes ------------------------------------------------------------------------

def _day(text: str) -> dt.date:
    return dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").date()


class Project:
    """The project's core call, as the web page makes it."""

    name = "project"

    def open(self, index: str) -> None:
        from search.service import Archive

        self.archive = Archive(index)
        self.archive.warm()  # what a web worker does before it takes requests

    def request(self, spec: dict):
        from search.models import SearchRequest

        q = f'"{spec["text"]}"' if spec["phrase"] else spec["text"]
        if spec.get("person"):
            return SearchRequest(q=q, person=(spec["person"],), date_from=_day(spec["date_from"]),
                                 date_to=_day(spec["date_to"]) - dt.timedelta(days=1))
        return SearchRequest(q=q)

    def page(self, spec: dict) -> int:
        return self.archive.search(self.request(spec)).total


class ProjectHttp(Project):
    """The project's ``/api/search`` from a running server."""

    name = "project_http"

    def open(self, base: str) -> None:
        import http.client

        host, port = base.removeprefix("http://").split(":")
        self.address = (host, int(port))
        self.http = http.client

    def page(self, spec: dict) -> int:
        from urllib.parse import quote, urlencode

        req = self.request(spec)
        params = {"q": req.q}
        if req.person:
            params.update(person=req.person[0], **{"from": req.date_from.isoformat(),
                                                   "to": req.date_to.isoformat()})
        conn = self.http.HTTPConnection(*self.address, timeout=60)
        try:
            conn.request("GET", self.path + urlencode(params, quote_via=quote))
            resp = conn.getresponse()
            body = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise RuntimeError(f"{resp.status}: {body[:200]!r}")
        return self.total_of(body)

    path = "/api/search?"

    @staticmethod
    def total_of(body: bytes) -> int:
        return json.loads(body)["total"]


class ProjectHtml(ProjectHttp):
    """The project's HTML results page (``/?q=``) from a running server."""

    name = "project_html"
    path = "/?"

    @staticmethod
    def total_of(body: bytes) -> int:
        found = re.search(rb'data-total="(\d+)"', body)
        if found is None:
            raise RuntimeError("the results page shows no total")
        return int(found.group(1))


def serve(engine: str, where: str) -> None:
    """A query process: one JSON spec a line in, ``{"ms", "total"}`` a line out."""
    if engine == "project":
        runner = Project()
    elif engine == "project_http":
        runner = ProjectHttp()
    elif engine == "project_html":
        runner = ProjectHtml()
    else:
        module = _engines_module()
        runner = {"tantivy": module.Tantivy, "sqlite_fts5": module.SqliteFts5}[engine]()
    started = time.perf_counter()
    runner.open(where)
    print(json.dumps({"open_ms": (time.perf_counter() - started) * 1000}), flush=True)
    for line in sys.stdin:
        spec = json.loads(line)
        started = time.perf_counter()
        try:
            total = runner.page(spec)
        except Exception as exc:  # noqa: BLE001 - a refused page (the project's time limit) is
            # timed and counted as an error, not the end of the run
            total = None
            print(f"{engine}: {spec.get('text')!r}: {type(exc).__name__}: {exc}",
                  file=sys.stderr, flush=True)
        ms = (time.perf_counter() - started) * 1000
        print(json.dumps({"ms": ms, "total": total}), flush=True)


class Worker:
    def __init__(self, engine: str, where: str):
        self.engine = engine
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.peers", "--serve", engine, "--index", where],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        self.open_ms = json.loads(self.proc.stdout.readline())["open_ms"]

    def ask(self, spec: dict) -> dict:
        self.proc.stdin.write(json.dumps(spec) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.engine} query process ended")
        return json.loads(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


# -- building ---------------------------------------------------------------------------------

def _timed(args: list[str], env: dict | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(args, cwd=ROOT, check=True, env={**os.environ, **(env or {})},
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def prepare(workdir: Path, size: int, reuters: bool, n_queries: int) -> tuple[Path, Path]:
    """The corpus and its queries in ``workdir`` (made once, reused)."""
    shared = _shared_bench()
    workdir.mkdir(parents=True, exist_ok=True)
    corpus = workdir / ("reuters.jsonl" if reuters else f"synth{size}.jsonl")
    if not corpus.exists():
        out = workdir / "prep"
        out.mkdir(exist_ok=True)
        _timed([sys.executable, str(shared / "prep_corpus.py")],
               {"PERF_DATA": str(SHARED / "data"), "PERF_OUT": str(out),
                "N_SYNTH": str(size)})
        shutil.move(out / ("reuters.jsonl" if reuters else "synth200k.jsonl"), corpus)
    queries = corpus.with_suffix(f".q{n_queries}.json")
    if not queries.exists():
        subprocess.run([sys.executable, "-c",
                        "import sys, runpy; sys.argv = sys.argv[1:]; "
                        "m = runpy.run_path(sys.argv[0]); m['main'](sys.argv[1], sys.argv[2], "
                        "int(sys.argv[3]))",
                        str(shared / "make_queries.py"), str(corpus), str(queries),
                        str(n_queries)], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return corpus, queries


def build(engine: str, corpus: Path, index: Path) -> float:
    """Seconds to ingest ``corpus`` into a fresh ``index``, end to end, in a process of its own."""
    shutil.rmtree(index, ignore_errors=True)
    if engine == "project":
        # --people never: the corpus gives people and no organisations or places, and the
        # peers extract nothing; without it every article's organisations and places would be
        # extracted (34 articles/s at 20,000 instead of hundreds)
        return _timed([sys.executable, str(ROOT / "ingest.py"), "--index", str(index), "-q",
                       "--people", "never", str(corpus)])
    cls = {"tantivy": "Tantivy", "sqlite_fts5": "SqliteFts5"}[engine]
    code = ("import importlib.util, sys\n"
            "s = importlib.util.spec_from_file_location('e', sys.argv[1])\n"
            "m = importlib.util.module_from_spec(s); s.loader.exec_module(m)\n"
            f"m.{cls}().build(sys.argv[2], sys.argv[3])\n")
    return _timed([sys.executable, "-c", code, str(_shared_bench() / "engines.py"), str(corpus),
                   str(index)])


# -- measuring --------------------------------------------------------------------------------

def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def measure(engines: dict[str, str], queries: list[dict]) -> dict:
    """Every query to every engine, interleaved, first sight then repeated."""
    workers = {name: Worker(name, where) for name, where in engines.items()}
    names = list(workers)
    times = {name: {"first": [], "repeat": [], "totals": [], "after": []} for name in names}
    try:
        first_request = {}
        before = None  # the engine that answered just before
        for i, spec in enumerate(queries):
            # each query in an order of its own, drawn with a fixed seed: every engine comes
            # right after each other as often, wherever it is listed (a rotation put the
            # engines listed after FTS5 right after it for most queries)
            order = random.Random(i).sample(names, len(names))
            for phase in ("first", "repeat"):
                for name in order:
                    answer = workers[name].ask(spec)
                    times[name][phase].append(answer["ms"])
                    if phase == "first":
                        times[name]["after"].append(before)
                    before = name
                    if phase == "first":
                        times[name]["totals"].append(answer["total"])
                        first_request.setdefault(name, answer["ms"])
        opened = {name: w.open_ms for name, w in workers.items()}
    finally:
        for w in workers.values():
            w.close()
    return {"times": times, "first_request_ms": first_request, "open_ms": opened}


def by_kind(times: dict, queries: list[dict]):
    """For each query kind and "all": (the positions of its queries, {"<engine>.<phase>.p50"
    and ".p95": ms}) over ``times`` ({engine: {"first": [ms], "repeat": [ms]}})."""
    for kind in (*KINDS, "all"):
        picked = [i for i, q in enumerate(queries) if kind == "all" or q["kind"] == kind]
        if not picked:
            continue
        row = {}
        for name, t in times.items():
            for phase in ("first", "repeat"):
                values = [t[phase][i] for i in picked]
                row[f"{name}.{phase}.p50"] = statistics.median(values)
                row[f"{name}.{phase}.p95"] = _pct(values, 0.95)
        yield kind, picked, row


def summarise(result: dict, queries: list[dict], base: str = "project") -> dict:
    times = result["times"]
    out = {}
    for kind, picked, row in by_kind(times, queries):
        for name, t in times.items():
            # first sight right after FTS5's answer, and the others (see the docstring)
            for label, after in (("after_fts5", True), ("not_after_fts5", False)):
                values = [t["first"][i] for i in picked
                          if (t["after"][i] == "sqlite_fts5") == after]
                if values:
                    row[f"{name}.first.{label}.n"] = len(values)
                    row[f"{name}.first.{label}.p50"] = statistics.median(values)
                    row[f"{name}.first.{label}.p95"] = _pct(values, 0.95)
            # pages refused (the project's time limit), seen the first time
            row[f"{name}.errors"] = sum(1 for i in picked if t["totals"][i] is None)
        for name in times:
            if name == base or name.startswith("project"):
                continue
            for phase in ("first", "repeat"):
                ratios = [times[base][phase][i] / max(times[name][phase][i], 1e-3)
                          for i in picked]
                row[f"ratio.{name}.{phase}"] = statistics.median(ratios)
        out[kind] = row
    return out


def print_report(info: dict, ingest: dict, summary: dict, result: dict) -> None:
    print(f"\n{info['corpus']}: {info['articles']:,} articles, {info['queries']} queries "
          f"({', '.join(f'{k} {n}' for k, n in info['kinds'].items())}); {info['machine']}")
    print("\ningest, end to end (articles/s):")
    for name, rate in ingest.items():
        ratio = ingest["tantivy"] / rate if "tantivy" in ingest else float("nan")
        print(f"  {name:14} {rate:9,.0f}   (tantivy / this: {ratio:.2f}x)")
    names = list(result["times"])
    print("\nopening (ms) and the first request of a fresh query process (ms):")
    for name in names:
        print(f"  {name:14} open {result['open_ms'][name]:9.1f}   first request "
              f"{result['first_request_ms'][name]:9.1f}")
    for phase, title in (("first", "first time a query is seen"), ("repeat", "repeated")):
        print(f"\npages, {title}: p50 / p95 ms, and the median of per-query ratios")
        header = "  kind     " + "".join(f"{n:>22}" for n in names) + "".join(
            f"{'project/' + n.replace('sqlite_', ''):>20}" for n in names
            if not n.startswith("project"))
        print(header)
        for kind, row in summary.items():
            cells = "".join(f"{row[f'{n}.{phase}.p50']:10.2f} /{row[f'{n}.{phase}.p95']:9.2f}"
                            for n in names)
            ratios = "".join(f"{row[f'ratio.{n}.{phase}']:19.2f}x" for n in names
                             if not n.startswith("project"))
            print(f"  {kind:8} {cells}{ratios}")
    if "sqlite_fts5" in names:
        print("\nfirst sight, p50 / p95 ms (answers): right after FTS5's answer | the others")
        for kind, row in summary.items():
            cells = []
            for n in names:
                if n == "sqlite_fts5":
                    continue
                part = []
                for label in ("after_fts5", "not_after_fts5"):
                    if f"{n}.first.{label}.n" in row:
                        part.append(f"{row[f'{n}.first.{label}.p50']:.1f} / "
                                    f"{row[f'{n}.first.{label}.p95']:.1f} "
                                    f"({row[f'{n}.first.{label}.n']})")
                    else:
                        part.append("-")
                cells.append(f"{n} {' | '.join(part)}")
            print(f"  {kind:8} " + ";  ".join(cells))
    errors = {n: summary["all"][f"{n}.errors"] for n in names
              if "all" in summary and summary["all"].get(f"{n}.errors")}
    if errors:
        print(f"\npages refused (first sight): {errors}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.peers", description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=20_000)
    ap.add_argument("--reuters", action="store_true", help="Reuters-21578 instead of synthetic")
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--workdir", default=str(ROOT / "bench" / "out" / "peers"))
    ap.add_argument("--json", help="write the figures here too")
    ap.add_argument("--http", action="store_true",
                    help="also the project's /api/search and HTML results page")
    ap.add_argument("--no-build", action="store_true", help="reuse the indexes of a run before")
    ap.add_argument("--serve", help=argparse.SUPPRESS)
    ap.add_argument("--index", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        serve(args.serve, args.index)
        return 0

    workdir = Path(args.workdir)
    corpus, query_file = prepare(workdir, args.size, args.reuters, args.queries)
    queries = json.loads(query_file.read_text())
    with open(corpus) as fh:
        articles = sum(1 for _ in fh)
    label = corpus.stem
    ingest = {}
    indexes = {name: workdir / f"{label}.{name}" for name in ENGINES}
    for name in ENGINES:
        if args.no_build and indexes[name].exists():
            continue
        seconds = build(name, corpus, indexes[name])
        ingest[name] = articles / seconds
        print(f"ingest {name}: {seconds:.1f} s, {articles / seconds:,.0f} articles/s", flush=True)
    engines = {name: str(path) for name, path in indexes.items()}
    servers = []
    if args.http:
        from bench.load import start_server

        # a server each, so that neither sees a query the other has already answered
        for name in ("project_http", "project_html"):
            server, base = start_server(indexes["project"], workers=1)
            servers.append(server)
            engines[name] = base
    try:
        result = measure(engines, queries)
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=30)
    summary = summarise(result, queries)
    info = {"corpus": label, "articles": articles, "queries": len(queries),
            "kinds": {k: sum(q["kind"] == k for q in queries) for k in KINDS},
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
                       f"{platform.python_version()}",
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    print_report(info, ingest, summary, result)
    if args.json:
        Path(args.json).write_text(json.dumps({"info": info, "ingest": ingest,
                                               "summary": summary,
                                               "first_request_ms": result["first_request_ms"],
                                               "open_ms": result["open_ms"],
                                               "times": result["times"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
