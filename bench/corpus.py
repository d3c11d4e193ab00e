"""A deterministic synthetic news archive, built at run time from the real corpora.

    python -m bench.corpus --size 20000 --out bench/out/synth-20k.jsonl [--data ../shared/data]

Sentences, headlines and person names are taken from ../shared/data when this runs (Reuters-21578
bodies and titles, BBC News, Wikinews, CoNLL-2003 person names); nothing of them is stored in
the repository. Each article gets a headline, a body of 4-12 sentences, 1-4 people drawn with a
Zipf distribution from a pool of a few thousand names, a date over four decades (3% undated)
and one of a dozen sections. The same seed and size always give the same archive.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import html
import json
import random
import re
import sys
from bisect import bisect
from itertools import accumulate
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
SECTIONS = ["Politics", "Business", "Markets", "World", "Sport", "Science", "Health",
            "Culture", "Technology", "Energy", "Agriculture", "Local"]
FIRST_YEAR, LAST_YEAR = 1985, 2024
UNDATED_SHARE = 0.03
POOL_SIZE = 3000
ZIPF_S = 1.1

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"])")


def _clean(text: str) -> str:
    text = re.sub(r"&#\d+;", " ", html.unescape(text))
    return " ".join(text.split())


def load_material(data: Path) -> tuple[list[str], list[str], list[str]]:
    """(sentences, headlines, person names) from the corpora, in a stable order."""
    sentences: list[str] = []
    headlines: list[str] = []
    names: set[str] = set()
    for path in sorted((data / "reuters21578").glob("reut2-*.sgm")):
        text = path.read_text(encoding="latin-1")
        for title in re.findall(r"<TITLE>(.*?)</TITLE>", text, re.S):
            headlines.append(_clean(title).title())
        for body in re.findall(r"<BODY>(.*?)</BODY>", text, re.S):
            sentences.extend(s for s in _SENTENCE.split(_clean(body)) if 40 <= len(s) <= 400)
    for path in sorted((data / "bbc_news").rglob("*.txt")):
        raw = path.read_bytes().decode("utf-8", "replace")
        head, _, body = raw.partition("\n")
        headlines.append(_clean(head))
        sentences.extend(s for s in _SENTENCE.split(_clean(body)) if 40 <= len(s) <= 400)
    for path in sorted((data / "wikinews").glob("*.csv")):
        with path.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                if row.get("title"):
                    headlines.append(_clean(row["title"]))
                sentences.extend(s for s in _SENTENCE.split(_clean(row.get("text", "")))
                                 if 40 <= len(s) <= 400)
    for path in sorted((data / "conll2003").glob("docs_persons.*.jsonl")):
        for line in path.open(encoding="utf-8"):
            for name in json.loads(line)["persons"]:
                if len(name.split()) >= 2 and name.replace(" ", "").replace("-", "").isalpha():
                    names.add(name)
    for line in (data / "reuters21578" / "all-people-strings.lc.txt").open(encoding="latin-1"):
        if "-" in line.strip():
            names.add(" ".join(w.capitalize() for w in line.strip().split("-")))
    return sentences, headlines, sorted(names)


def generate(size: int, data: Path, seed: int = 1987):
    """Yield ``size`` article records (dicts), deterministically."""
    sentences, headlines, names = load_material(data)
    rng = random.Random(seed)
    pool = names[:]
    rng.shuffle(pool)
    pool = pool[:POOL_SIZE]
    weights = list(accumulate(1.0 / (rank + 1) ** ZIPF_S for rank in range(len(pool))))
    total_weight = weights[-1]
    first = dt.date(FIRST_YEAR, 1, 1)
    span = (dt.date(LAST_YEAR, 12, 31) - first).days + 1
    for i in range(size):
        people: list[str] = []
        for _ in range(rng.randint(1, 4)):
            name = pool[bisect(weights, rng.random() * total_weight)]
            if name not in people:
                people.append(name)
        body = " ".join(rng.choice(sentences) for _ in range(rng.randint(4, 12)))
        # name the people in the text too, as a real article would
        body = f"{people[0]} said: {body}" if len(people) == 1 else \
            f"{', '.join(people[:-1])} and {people[-1]} were named. {body}"
        record = {"id": f"syn-{i:07d}", "headline": rng.choice(headlines), "body": body,
                  "people": people, "section": rng.choice(SECTIONS)}
        if rng.random() >= UNDATED_SHARE:
            record["date"] = (first + dt.timedelta(days=rng.randrange(span))).isoformat()
        yield record


def write(size: int, out: Path, data: Path, seed: int = 1987) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for record in generate(size, data, seed):
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=20_000)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--seed", type=int, default=1987)
    args = ap.parse_args(argv)
    if not (args.data / "reuters21578").exists():
        print(f"not found: {args.data}", file=sys.stderr)
        return 2
    write(args.size, args.out, args.data, args.seed)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
