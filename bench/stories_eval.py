"""How well stories are found: pair precision and recall on a set with known copies.

    python -m bench.stories_eval [--originals 800] [--seed 7]

The set (built at run time from ../shared/data, nothing of it is stored):

- originals: BBC News and Wikinews articles that share no whole sentence of 12 words or more
  with another of them (the corpora hold versions of their own: BBC republished updated
  stories), a random ``--originals`` of them;
- 1-3 rewritten versions of each of a random half of the originals, each made of one to
  three rewrites: a new headline and a dateline in front, the ending trimmed (10-40% of
  the words cut at a sentence), copy-edited (a typo in 2% of the words, 2% of neighbouring
  words swapped, a sentence reworded), a correction paragraph appended; dated 0-3 days after
  the original;
- follow-ups: for a fifth as many originals, another article (not otherwise in the set) with
  a paragraph of an original quoted in it, a story of its own;
- Reuters-21578's earnings reports ("Shr ... vs ..."): the templated reports that must not be
  merged unless their texts are the same.

The true pairs are an original with each of its versions and the versions with each other.
Reported: pairs predicted and true, precision and recall; the earnings reports merged with a
report of different figures (must be 0); the pairs found among originals (not known copies:
printed for a look, since the corpora may hold real ones).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import random
import re
import time
from dataclasses import replace
from pathlib import Path

from search.ingest import check_paths
from search.ingest.records import load_articles
from search.models import Article
from search.stories import Version, article_sketch, group

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
CITIES = ["LONDON", "NEW YORK", "PARIS", "TOKYO", "NAIROBI", "SYDNEY", "BERLIN", "LIMA"]
EARNINGS = re.compile(r"\bShr\b.*\bvs\b", re.S)
TICKER = re.compile(r"<([^<>]+)>")


def companies_differ(a: Article, b: Article) -> bool:
    """Whether two earnings reports are about different companies: their tickers differ
    ("<XON>"; an exchange suffix such as ".O" ignored) and so do their headlines' first words
    (Reuters spells one company's ticker or name in more than one way)."""
    def ticker(x: Article) -> str | None:
        found = TICKER.search(x.headline)
        return found.group(1).strip().upper().split(".")[0] if found else None

    def first_word(x: Article) -> str:
        return x.headline.replace("<", " ").split()[0].upper() if x.headline.split() else ""

    return ticker(a) != ticker(b) and first_word(a) != first_word(b)


def load(path: Path) -> list[Article]:
    files = check_paths([path], None)
    return [p.article for p in load_articles(files, mode="never", on_reject=lambda e: None)]


def _sentences(text: str) -> list[str]:
    return re.split(r"(?<=[.!?])\s+", text)


def rewrite(article: Article, rng: random.Random, n: int) -> Article:
    """A version of ``article`` made of ``n`` of the rewrites in the module's docstring."""
    headline, body = article.headline, article.body
    for kind in rng.sample(["headline", "trim", "edit", "correction"], n):
        if kind == "headline":
            words = headline.split()
            rng.shuffle(words)
            headline = "UPDATE 1-" + " ".join(words[: max(3, len(words) - 2)])
            body = f"{rng.choice(CITIES)}, {article.date or 'today'} (Wire) - {body}"
        elif kind == "trim":
            parts = _sentences(body)
            keep = max(1, round(len(parts) * rng.uniform(0.6, 0.9)))
            body = " ".join(parts[:keep])
        elif kind == "edit":
            words = body.split(" ")
            for i in range(len(words)):
                r = rng.random()
                if r < 0.02 and len(words[i]) > 3:
                    j = rng.randrange(1, len(words[i]) - 1)
                    words[i] = words[i][:j] + words[i][j + 1] + words[i][j] + words[i][j + 2:]
                elif r < 0.04 and i + 1 < len(words):
                    words[i], words[i + 1] = words[i + 1], words[i]
            body = " ".join(words)
            parts = _sentences(body)
            if len(parts) > 2:
                k = rng.randrange(len(parts))
                parts[k] = "In other words, " + parts[k][:1].lower() + parts[k][1:]
            body = " ".join(parts)
        else:
            body += ("\n\nCorrection: an earlier version of this article gave a wrong "
                     "figure in its third paragraph. The wire regrets the error.")
    date = article.date + dt.timedelta(days=rng.randint(0, 3)) if article.date else None
    return replace(article, headline=headline, body=body, date=date)


def version(a: Article) -> Version:
    hashes, signature = article_sketch(a.headline, a.body)
    return Version(a.id, a.date, hashes, signature)


def pairs_of(groups: list[list[str]]) -> set[tuple[str, str]]:
    out = set()
    for g in groups:
        for a, b in itertools.combinations(sorted(g), 2):
            out.add((a, b))
    return out


def build(originals: int, seed: int) -> tuple[list[Article], set, list[Article]]:
    rng = random.Random(seed)
    pool = load(DATA / "bbc_news") + load(DATA / "wikinews")
    # the corpora hold versions of their own (BBC republished updated stories): an article
    # sharing a whole sentence of 12 words or more with another is not an original here, so
    # that every true pair of the set is known
    holders: dict[str, set[str]] = {}
    for a in pool:
        for sentence in _sentences(" ".join(a.body.split())):
            words = re.findall(r"\w+", sentence.lower())
            if len(words) >= 12:
                holders.setdefault(" ".join(words), set()).add(a.id)
    shared = {i for ids in holders.values() if len(ids) > 1 for i in ids}
    independent = sorted((a for a in pool if a.id not in shared), key=lambda a: a.id)
    print(f"pool: {len(pool)} articles, {len(shared)} sharing a sentence with another "
          f"left out, {len(independent)} to choose from")
    picked = rng.sample(independent, originals + originals // 5)
    chosen, others = picked[:originals], picked[originals:]
    articles, truth = [], []
    for a in chosen:
        articles.append(a)
        family = [a.id]
        if rng.random() < 0.5:
            for k in range(rng.randint(1, 3)):
                v = replace(rewrite(a, rng, rng.randint(1, 3)), id=f"{a.id}~v{k}")
                articles.append(v)
                family.append(v.id)
        truth.append(family)
    # follow-ups: an article of its own (not otherwise in the set) quoting a paragraph of an
    # original: a story of one
    for own, quoted in zip(others, rng.sample(chosen, len(others))):
        paragraphs = [p for p in quoted.body.split("\n\n") if p.strip()] or [quoted.body]
        quote = rng.choice(paragraphs)
        body = own.body.split("\n\n")
        body.insert(min(2, len(body)), f"As reported earlier: {quote}")
        articles.append(replace(own, id=f"{own.id}~followup", body="\n\n".join(body)))
        truth.append([f"{own.id}~followup"])
    earnings = [a for a in load(DATA / "reuters21578") if EARNINGS.search(a.body)]
    return articles, pairs_of(truth), earnings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--originals", type=int, default=800)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    articles, truth, earnings = build(args.originals, args.seed)
    started = time.perf_counter()
    found = group(version(a) for a in articles)
    took = time.perf_counter() - started
    predicted = pairs_of([[v.id for v in g] for g in found])
    hit = predicted & truth
    precision = len(hit) / len(predicted) if predicted else 1.0
    recall = len(hit) / len(truth) if truth else 1.0
    print(f"set: {len(articles)} articles ({args.originals} originals, their versions and "
          f"{args.originals // 5} follow-ups, seed {args.seed}); "
          f"grouped in {took:.1f} s")
    print(f"pairs: true {len(truth)}, predicted {len(predicted)}, right {len(hit)}")
    print(f"pair precision {precision:.3f}, recall {recall:.3f}")
    by_id = {a.id: a for a in articles}
    stray = sorted(p for p in predicted - truth)
    for a, b in stray[:10]:
        print(f"  not a known pair: {by_id[a].headline[:60]!r} ~ {by_id[b].headline[:60]!r}")
    missed = sorted(truth - predicted)
    print(f"missed pairs: {len(missed)}")
    started = time.perf_counter()
    merged = group(version(a) for a in earnings)
    earnings_by_id = {a.id: a for a in earnings}
    took = time.perf_counter() - started
    pairs = [(a, b) for g in merged for a, b in itertools.combinations(g, 2)]
    wrong = [(a, b) for a, b in pairs
             if companies_differ(earnings_by_id[a.id], earnings_by_id[b.id])]
    print(f"earnings reports: {len(earnings)} grouped in {took:.1f} s; pairs merged: "
          f"{len(pairs)}, of reports on different companies: {len(wrong)}")
    for a, b in wrong[:10]:
        print(f"  {earnings_by_id[a.id].headline[:60]!r} ~ {earnings_by_id[b.id].headline[:60]!r}")


if __name__ == "__main__":
    main()
