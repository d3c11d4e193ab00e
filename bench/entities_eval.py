"""Measure people, organisation and place extraction against CoNLL-2003's gold PER, ORG and LOC
tags, per document.

    python -m bench.entities_eval [--split testa] [--data ../shared/data] [--errors 10]

Reads ``conll2003/eng.<split>`` (one token a line, IOB1 tags, ``-DOCSTART-`` between articles):
each article's text is its tokens joined back into ordinary spacing (as ``bench.people_eval``
does), its gold sets the distinct PER, ORG and LOC spans (people canonicalised as extraction
does: ``merge_mentions`` folds "Hussain" into "Nasser Hussain"). Extraction is
``search.people.extract_entities_many`` on (first sentence, the rest). A name counts as found
when the folded forms agree (case and accents ignored). Prints precision, recall and F1 over
all (article, name) pairs for each kind, and the articles a second.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.people_eval import DEFAULT_DATA, detokenize, key, prf
from search.people import extract_entities_many, merge_mentions

GOLD_KINDS = {"PER": "people", "ORG": "organizations", "LOC": "places"}


def read_conll(path: Path) -> list[dict]:
    """Articles of a CoNLL-2003 file: {"sentences": [text...], "people"|...: [mentions]}."""
    docs: list[dict] = []
    sentence: list[str] = []
    span: list[str] = []
    span_kind = None

    def close_span():
        nonlocal span, span_kind
        if span and span_kind in GOLD_KINDS:
            docs[-1][GOLD_KINDS[span_kind]].append(" ".join(span))
        span, span_kind = [], None

    def close_sentence():
        nonlocal sentence
        close_span()
        if sentence and docs:
            docs[-1]["sentences"].append(detokenize(" ".join(sentence)))
        sentence = []

    with path.open(encoding="utf-8") as lines:
        rows = [line.split() for line in lines]
    for parts in rows:
        if not parts:
            close_sentence()
            continue
        if parts[0] == "-DOCSTART-":
            close_sentence()
            docs.append({"sentences": [], **{k: [] for k in GOLD_KINDS.values()}})
            continue
        token, tag = parts[0], parts[-1]
        kind = tag[2:] if tag != "O" else None
        if kind is None or tag.startswith("B-") or kind != span_kind:
            close_span()
        if kind is not None:
            span.append(token)
            span_kind = kind
        sentence.append(token)
    close_sentence()
    return [d for d in docs if d["sentences"]]


def gold_sets(doc: dict) -> dict[str, set[str]]:
    return {"people": {key(n) for n in merge_mentions([detokenize(m) for m in doc["people"]])},
            "organizations": {key(detokenize(n)) for n in doc["organizations"]},
            "places": {key(detokenize(n)) for n in doc["places"]}}


def evaluate(path: Path, show_errors: int = 0) -> dict:
    docs = read_conll(path)
    texts = [(d["sentences"][0], "\n".join(d["sentences"][1:])) for d in docs]
    start = time.perf_counter()
    found = extract_entities_many(texts)
    seconds = time.perf_counter() - start
    out: dict = {"documents": len(docs), "seconds": round(seconds, 2),
                 "docs_per_second": round(len(docs) / seconds, 1)}
    for kind in GOLD_KINDS.values():
        tp = fp = fn = 0
        errors = []
        for doc, got_names in zip(docs, found):
            gold = gold_sets(doc)[kind]
            got = {key(n) for n in got_names[kind]}
            tp += len(gold & got)
            fp += len(got - gold)
            fn += len(gold - got)
            if gold != got:
                errors.append((sorted(got - gold), sorted(gold - got)))
        p, r, f1 = prf(tp, fp, fn)
        out[kind] = {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f1, 4),
                     "true_positives": tp, "false_positives": fp, "false_negatives": fn}
        for extra, missed in errors[:show_errors]:
            print(f"{kind}: extra {extra} missed {missed}", file=sys.stderr)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--split", default="testa")
    ap.add_argument("--errors", type=int, default=0, help="print this many articles' errors")
    args = ap.parse_args(argv)
    path = args.data / "conll2003" / f"eng.{args.split}"
    if not path.exists():
        print(f"not found: {path}", file=sys.stderr)
        return 2
    print(json.dumps(evaluate(path, args.errors), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
