"""People precision on real archives, checked by hand: a seeded random sample of (article,
person) pairs from an index, each with the sentence that names it, to judge; then the
precision of the judged sample.

    python -m bench.people_sample draw INDEX [--n 100] [--seed 16] [--id-pattern RE] > sample.tsv
    (mark each line's first column: y a person, n not a person)
    python -m bench.people_sample score sample.tsv

The sample is drawn over articles (each article drawn once, one of its people at random), so
that a name found in many articles counts as often as the articles it is in, as a reader of the
archive meets it. ``draw`` writes one line per pair: ``?``, the article id, the name and the
sentence (cut to 160 characters); keep the file out of the repository (it quotes the corpus).
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from pathlib import Path

from search.engines.whoosh import store
from search.schema import doc_to_article


def draw(index: Path, n: int, seed: int, pattern: str | None) -> list[tuple[str, str, str]]:
    ix = store.open_index(index)
    try:
        with ix.searcher() as searcher:
            articles = [doc_to_article(f) for f in searcher.all_stored_fields()]
    finally:
        ix.close()
    articles = [a for a in articles if a.people and (pattern is None or re.match(pattern, a.id))]
    rng = random.Random(seed)
    rng.shuffle(articles)
    out = []
    for a in articles[:n]:
        name = rng.choice(a.people)
        text = f"{a.headline}. {a.body}"
        context = next((s for s in re.split(r"(?<=[.!?])\s+|\n+", text) if name in s), "")
        if not context:  # a short form or a surname resolved: the first word of the name
            context = next((s for s in re.split(r"(?<=[.!?])\s+|\n+", text)
                            if name.split()[-1] in s), "")
        out.append((a.id, name, " ".join(context.split())[:160]))
    return out


def score(path: Path) -> dict:
    marks = [line.split("\t", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip()]
    judged = [m for m in marks if m in ("y", "n")]
    yes = judged.count("y")
    return {"judged": len(judged), "people": yes, "not_people": len(judged) - yes,
            "precision": round(yes / len(judged), 3) if judged else None,
            "unjudged": len(marks) - len(judged)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("draw")
    d.add_argument("index", type=Path)
    d.add_argument("--n", type=int, default=100)
    d.add_argument("--seed", type=int, default=16)
    d.add_argument("--id-pattern", help="only articles whose id matches this regular "
                   "expression from its start (one source)")
    s = sub.add_parser("score")
    s.add_argument("sample", type=Path)
    args = ap.parse_args(argv)
    if args.cmd == "draw":
        for article_id, name, context in draw(args.index, args.n, args.seed, args.id_pattern):
            print(f"?\t{article_id}\t{name}\t{context}")
        return 0
    print(score(args.sample))
    return 0


if __name__ == "__main__":
    sys.exit(main())
