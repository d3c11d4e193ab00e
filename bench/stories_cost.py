"""What keeping stories costs ingest: ``ingest.py`` of this tree beside ``ingest.py`` of the
commit before stories, on one corpus, alternated, each run into a fresh index.

    python -m bench.stories_cost [--size 20000] [--repeat 3] [--baseline 6e8997a]

The baseline is checked out with ``git worktree`` into bench/out/baseline-<commit> (and left
there for the next run). The corpus is ``bench.peers``'s synthetic one (made if missing).
Prints each run's seconds and articles/s, the medians and their ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
BASELINE = "6e8997a"  # the last commit before stories


def baseline_tree(commit: str) -> Path:
    tree = OUT / f"baseline-{commit}"
    if not tree.exists():
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree),
                        commit], check=True, stdout=subprocess.DEVNULL)
    return tree


def ingest(tree: Path, corpus: Path, index: Path) -> float:
    shutil.rmtree(index, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, str(tree / "ingest.py"), "--index", str(index), "-q",
                    str(corpus)], check=True, cwd=tree)
    took = time.perf_counter() - started
    shutil.rmtree(index, ignore_errors=True)
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, default=20_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--baseline", default=BASELINE)
    args = ap.parse_args()
    from bench.peers import prepare

    corpus, _ = prepare(OUT / "peers", args.size, False, 300)
    trees = {"stories": ROOT, "baseline": baseline_tree(args.baseline)}
    runs: dict[str, list[float]] = {name: [] for name in trees}
    for i in range(args.repeat):
        for name, tree in trees.items():
            took = ingest(tree, corpus, OUT / f"stories-cost-{name}")
            runs[name].append(took)
            print(f"run {i + 1} {name:9} {took:7.1f} s  {args.size / took:7,.0f} articles/s",
                  flush=True)
    medians = {name: statistics.median(t) for name, t in runs.items()}
    for name, m in medians.items():
        print(f"median {name:9} {m:7.1f} s  {args.size / m:7,.0f} articles/s")
    print(f"stories / baseline (time): {medians['stories'] / medians['baseline']:.3f}")


if __name__ == "__main__":
    main()
