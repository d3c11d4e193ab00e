"""Measure people extraction against CoNLL-2003's gold person annotations, per document.

    python -m bench.people_eval [--split testa] [--data ../shared/data] [--errors 20]

Both sides go through the same canonicalisation (``search.people.merge_mentions``): the gold
mentions of an article ("Nasser Hussain", "Hussain") become its set of persons ("Nasser Hussain"),
and so do the extracted mentions. A person counts as found when the canonical names agree
(case- and accent-insensitively). Prints precision, recall and F1 over all (article, person) pairs.
CoNLL's text is tokenised ("Japan 's"); it is joined back into ordinary spacing first.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import unicodedata
from pathlib import Path

from search.people import extract_people_many, merge_mentions

DEFAULT_DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def detokenize(line: str) -> str:
    line = re.sub(r" ([,.;:!?%)\]}])", r"\1", line)
    line = re.sub(r" (['’](?:s|S|re|ve|ll|d|m|t)\b)", r"\1", line)
    line = re.sub(r"([(\[{$]) ", r"\1", line)
    return re.sub(r" n't\b", "n't", line)


def key(name: str) -> str:
    name = unicodedata.normalize("NFD", name)
    return " ".join("".join(c for c in name if unicodedata.category(c) != "Mn").casefold().split())


def evaluate(path: Path, show_errors: int = 0) -> dict:
    docs = [json.loads(line) for line in path.open(encoding="utf-8")]
    pairs = []
    for d in docs:
        lines = d["text"].split("\n")
        headline, body = detokenize(lines[0]), "\n".join(detokenize(x) for x in lines[1:])
        pairs.append((headline, body))
    start = time.perf_counter()
    predicted = extract_people_many(pairs)
    seconds = time.perf_counter() - start
    tp = fp = fn = 0
    errors = []
    for d, pred in zip(docs, predicted):
        gold = {key(n) for n in merge_mentions(d["person_mentions"])}
        got = {key(n) for n in pred}
        tp += len(gold & got)
        fp += len(got - gold)
        fn += len(gold - got)
        if gold != got:
            errors.append((d["doc_id"], sorted(got - gold), sorted(gold - got)))
    p, r, f1 = prf(tp, fp, fn)
    for doc_id, extra, missed in errors[:show_errors]:
        print(f"{doc_id}: extra {extra} missed {missed}", file=sys.stderr)
    return {"documents": len(docs), "true_positives": tp, "false_positives": fp,
            "false_negatives": fn, "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(f1, 4), "seconds": round(seconds, 2),
            "docs_per_second": round(len(docs) / seconds, 1)}


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """Precision, recall and F1 of these counts (0 where undefined)."""
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--split", default="testa")
    ap.add_argument("--errors", type=int, default=0, help="print this many documents' errors")
    args = ap.parse_args(argv)
    path = args.data / "conll2003" / f"docs_persons.{args.split}.jsonl"
    if not path.exists():
        print(f"not found: {path}", file=sys.stderr)
        return 2
    print(json.dumps(evaluate(path, args.errors)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
