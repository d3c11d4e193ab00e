"""Shared fixtures: paths, the corpus guard, and indexes built through the real ingest path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
DATA = Path(os.environ.get("NEWS_SHARED_DATA", ROOT.parent / "shared" / "data"))


def corpus_path(*parts: str) -> Path:
    """A path in ../shared/data; skips the test when absent, fails instead under CI."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        message = f"corpus not available: {path}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: the shared corpora must be present)")
        pytest.skip(message)
    return path


def run_ingest(*args: str | os.PathLike, env: dict | None = None,
               timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ingest.py as a user would, in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("NEWS_INDEX", None) if env is None or "NEWS_INDEX" not in env else None
    return subprocess.run([sys.executable, str(ROOT / "ingest.py"), *map(str, args)],
                          capture_output=True, text=True, env=full_env, timeout=timeout,
                          cwd=ROOT)


def summary_of(result: subprocess.CompletedProcess) -> dict:
    """The --json summary line of an ingest run."""
    lines = [ln for ln in result.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"no JSON summary in stdout: {result.stdout!r} stderr: {result.stderr[-2000:]!r}"
    return json.loads(lines[-1])


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records),
                    encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory) -> Path:
    """The demo archive, ingested once per session through ingest.py."""
    directory = tmp_path_factory.mktemp("demo") / "index"
    result = run_ingest("--index", directory, "--json", DEMO)
    assert result.returncode == 0, result.stderr
    return directory


@pytest.fixture(scope="module")
def demo_server(demo_index):
    """The demo archive served by ``python -m web`` (gunicorn, 2 workers) on 127.0.0.1, one
    server per test module; yields its base address."""
    from bench.load import start_server

    proc, base = start_server(demo_index, workers=2)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="session")
def reuters_ingest(tmp_path_factory):
    """All of Reuters-21578 ingested once per session: (folder, index, first run's result)."""
    folder = corpus_path("reuters21578")
    index = tmp_path_factory.mktemp("reuters") / "ix"
    first = run_ingest("--index", index, "--json", folder)
    return folder, index, first


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the two engines ---------------------------------------------------------------------------

ENGINES = ("whoosh", "xapian")


@pytest.fixture(scope="session")
def xapian_demo(tmp_path_factory):
    """The demo archive on a real local Xapian cluster (3 shards, a replica each), ingested
    through ``ingest.py --engine xapian``; yields the ``Cluster`` (``value``: NEWS_SHARDS)."""
    from .clusters import Cluster

    cluster = Cluster(tmp_path_factory.mktemp("xapian") / "cluster")
    try:
        result = run_ingest("--engine", "xapian", "--shards", cluster.value, "--json", DEMO)
        assert result.returncode == 0, result.stderr
        yield cluster
    finally:
        cluster.stop()


def engine_config(request, demo_index) -> dict:
    """The app settings of the demo archive on the engine ``request.param``."""
    if request.param == "xapian":
        cluster = request.getfixturevalue("xapian_demo")
        return {"NEWS_ENGINE": "xapian", "NEWS_SHARDS": cluster.value}
    return {"NEWS_INDEX": str(demo_index)}
