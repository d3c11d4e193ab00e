"""Escaped excerpts with the matched words in ``<mark>``.

Everything that is not a mark is HTML-escaped (quotes too), so article text such as
``<script>`` or ``&amp;`` shows as text. A word is marked when the field's own analyzer turns it
into one of the query's indexed terms, so stems ("elections" for "election"), phrase words and
prefix expansions are marked exactly where the index matched them.

Finding the words is the costly part of a results page, so it is done with the analyzer's own
tokenizer pattern (one C-level regex pass over the text) and each distinct word is analysed once
and remembered, instead of running the whole analyzer chain over every body shown.
"""

from __future__ import annotations

import html
import re
import threading
from functools import lru_cache

from search.analysis import fold, uneven_fold

SNIPPET_CHARS = 300
SEPARATOR = " … "
ELLIPSIS = "…"
MAX_FRAGMENTS = 3
_DEFAULT_TOKEN = re.compile(r"\w+(\.?\w+)*")
# the tokenizer patterns whose word starts ``_Words.spans`` knows: Whoosh's RegexTokenizer
# default (with "*", kept for wildcards) and the plain one; each with its word character
_WORD_CHARS = {r"[\w\*]+(\.?[\w\*]+)*": r"[\w*]", r"\w+(\.?\w+)*": r"\w"}
_FORMS_LIMIT = 200_000  # distinct words remembered per analyzer
# a term beginning with this is a word to mark as written (lower case), not by its stem
# (``exact:running``, ``search.operators.Exact``)
EXACT_MARK = "="


def escape(text: str) -> str:
    return html.escape(text, quote=True)


class _Words:
    """One analyzer's tokenizer pattern and a memory of what it makes of each word."""

    def __init__(self, analyzer):
        items = getattr(analyzer, "items", None) or [analyzer]
        self.pattern = getattr(items[0], "expression", None) or _DEFAULT_TOKEN
        self.analyzer = analyzer
        self.forms: dict[str, str | None] = {}
        self.lock = threading.Lock()

    def form(self, word: str) -> str | None:
        """The indexed term the analyzer makes of ``word`` (lower-cased), or None."""
        try:
            return self.forms[word]
        except KeyError:
            pass
        tokens = [t.text for t in self.analyzer(word, mode="query", removestops=False)]
        found = tokens[0] if len(tokens) == 1 else None
        with self.lock:
            if len(self.forms) >= _FORMS_LIMIT:
                self.forms.clear()
            self.forms[word] = found
        return found

    def spans(self, text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
        """(start, end) of every word of ``text`` that the analyzer turns into one of ``terms``.

        Only the words that start like one of the terms are analysed: a stem keeps the first
        letters of its (lower-cased, folded) word but for at most its last two (Snowball's
        "dying" -> "die"), so the words worth analysing are found by a regular expression over
        the folded text. That needs the folded text to keep every offset, and Whoosh's default
        tokenizer, whose word starts the expression mirrors; otherwise every word is analysed.
        """
        form = self.form
        word_char = _WORD_CHARS.get(self.pattern.pattern)
        ascii_only = text.isascii()  # folds to itself: no table to look at, nothing to fold
        if word_char is None or (not ascii_only and uneven_fold().search(text)):
            return self.all_spans(text, terms)
        starts = sorted({fold(t[1:]) if t.startswith(EXACT_MARK) else t[:max(1, len(t) - 2)]
                         for t in terms}, key=len, reverse=True)
        # the starts alone (a literal alternation, which the regex engine scans for quickly);
        # a find that does not begin a word is passed over by searching again one on
        finder = _finder(tuple(starts))
        inside = _inside(word_char)
        token = self.pattern.match
        folded = text.lower() if ascii_only else fold(text.lower())
        out = []
        at = 0
        while (m := finder.search(folded, at)) is not None:
            start = m.start()
            # a word starts where a word character follows neither one nor one and a dot
            # ("U.S")
            if start and inside(folded, max(0, start - 2), start):
                at = start + 1
                continue
            word = token(text, start)
            if word is not None and _wanted(word.group().lower(), terms, form):
                out.append(word.span())
            at = m.end()
        return out

    def all_spans(self, text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
        """``spans`` the plain way, analysing every word (the reference it is tested against)."""
        form = self.form
        return [m.span() for m in self.pattern.finditer(text)
                if _wanted(m.group().lower(), terms, form)]


def _wanted(word: str, terms: frozenset[str], form) -> bool:
    return form(word) in terms or EXACT_MARK + word in terms


@lru_cache(maxsize=4096)
def _finder(starts: tuple[str, ...]) -> re.Pattern:
    return re.compile("|".join(map(re.escape, starts)))


@lru_cache(maxsize=4)
def _inside(word_char: str):
    """A function telling whether ``text[a:b]`` (the two characters before a find) ends in a
    word character, or in one and a dot."""
    return re.compile(f"(?:{word_char}|{word_char}\\.)$").search


_WORDS: dict[int, _Words] = {}
_WORDS_LOCK = threading.Lock()


def _words(analyzer) -> _Words:
    words = _WORDS.get(id(analyzer))
    if words is None or words.analyzer is not analyzer:
        with _WORDS_LOCK:
            if len(_WORDS) > 16:
                _WORDS.clear()
            words = _WORDS[id(analyzer)] = _Words(analyzer)
    return words


def word_pattern(analyzer) -> re.Pattern:
    """The regular expression ``analyzer``'s tokenizer finds words with."""
    return _words(analyzer).pattern


def word_former(analyzer):
    """The function giving the indexed term ``analyzer`` makes of one lower-case word (or
    None), each word's remembered."""
    return _words(analyzer).form


@lru_cache(maxsize=8)
def plain_pattern(pattern: str) -> re.Pattern:
    """``pattern`` with its groups made non-capturing (``findall`` then gives whole words)."""
    return re.compile(re.sub(r"(?<!\\)\((?!\?)", "(?:", pattern))


def match_spans(text: str, terms: frozenset[str], analyzer) -> list[tuple[int, int]]:
    """Where in ``text`` the words that ``analyzer`` turns into one of ``terms`` are."""
    if not text or not terms:
        return []
    return _words(analyzer).spans(text, terms)


def _marked(text: str, start: int, end: int, spans: list[tuple[int, int]],
            plain=escape) -> str:
    """``text[start:end]`` escaped, with the spans inside it in ``<mark>``; ``plain`` escapes
    the text between them."""
    out = []
    at = start
    for s, e in spans:
        if s < start or e > end:
            continue
        out.append(plain(text[at:s]))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        at = e
    out.append(plain(text[at:end]))
    return "".join(out)


LONG_WORD = 40
_LONG_RUN = re.compile(r"\S{%d,}" % LONG_WORD)


def escape_long_words(text: str) -> str:
    """``text`` escaped, each run of ``LONG_WORD`` or more characters without a space in
    ``<span class="long-word">``: the page lets a browser break those anywhere. Breaking a long
    run of Thai, Arabic or emoji by the script's own rules took Chromium 10-40 s for an article
    of five 50,000-character words; anywhere, well under a second."""
    out = []
    at = 0
    for m in _LONG_RUN.finditer(text):
        out.append(escape(text[at:m.start()]))
        out.append(f'<span class="long-word">{escape(m.group())}</span>')
        at = m.end()
    out.append(escape(text[at:]))
    return "".join(out)


def highlight_whole(text: str, terms: frozenset[str], analyzer) -> str:
    """All of ``text`` (a headline, a paragraph), escaped, with matches marked and long words
    made breakable (``escape_long_words``)."""
    if not text:
        return ""
    return _marked(text, 0, len(text), match_spans(text, terms, analyzer), escape_long_words)


def opening(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The first ``limit`` characters of ``text`` (white space collapsed), cut at a word,
    escaped."""
    head = " ".join(text[:limit * 4].split())
    # the opening alone, unless white space takes most of it
    text = head if len(head) > limit or len(text) <= limit * 4 else " ".join(text.split())
    if len(text) <= limit:
        return escape(text)
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return escape(cut.rstrip(" ,;:")) + ELLIPSIS


def _groups(spans: list[tuple[int, int]], size: int) -> list[list[int]]:
    """Runs of neighbouring matches that fit in ``size`` characters: [start, end, matches]."""
    groups: list[list[int]] = []
    for s, e in spans:
        if groups and e - groups[-1][0] <= size:
            groups[-1][1] = e
            groups[-1][2] += 1
        else:
            groups.append([s, e, 1])
    return groups


_SPACE = re.compile(r"\s")
_SPACES = re.compile(r"\s+")


def _window(text: str, start: int, end: int, size: int) -> tuple[int, int]:
    """About ``size`` characters around ``text[start:end]``, cut at white space."""
    pad = max(0, size - (end - start)) // 2
    a, b = max(0, start - pad), min(len(text), end + pad)
    # give the room a text edge leaves unused to the other side
    if a == 0:
        b = min(len(text), max(b, size))
    elif b == len(text):
        a = max(0, min(a, len(text) - size))
    if a > 0:
        space = _SPACE.search(text, a, start)
        a = space.end() if space is not None else a
    if b < len(text):
        tail = text[end:b]
        cut = max(tail.rfind(" "), tail.rfind("\n"), tail.rfind("\t"))
        b = end + cut if cut != -1 else b
    return a, b


def snippet(text: str, terms: frozenset[str], analyzer, limit: int = SNIPPET_CHARS) -> str:
    """The 1-3 best fragments of ``text`` with matches marked, about ``limit`` characters in all,
    white space collapsed; the opening of the text when nothing in it matches.

    The best fragments hold the most matches (earliest first on a tie) and are shown in text
    order; with fewer than three places to show, each gets a larger share of ``limit``. Only
    the fragments are copied and collapsed, not the whole body (a results page shows ten).
    """
    if not text:
        return ""
    spans = match_spans(text, terms, analyzer)
    if not spans:
        return opening(text, limit)
    groups = _groups(spans, limit // MAX_FRAGMENTS)
    if len(groups) < MAX_FRAGMENTS:
        groups = _groups(spans, limit // len(groups))
    best = sorted(groups, key=lambda g: (-g[2], g[0]))[:MAX_FRAGMENTS]
    size = limit // len(best)
    windows: list[tuple[int, int]] = []
    for start, end, _ in sorted(best):
        a, b = _window(text, start, end, size)
        if windows and a <= windows[-1][1]:  # overlapping neighbours become one fragment
            windows[-1] = (windows[-1][0], max(b, windows[-1][1]))
        else:
            windows.append((a, b))
    body = SEPARATOR.join(_SPACES.sub(" ", _marked(text, a, b, spans)).strip()
                          for a, b in windows)
    lead = ELLIPSIS if text[:windows[0][0]].strip() else ""
    tail = ELLIPSIS if text[windows[-1][1]:].strip() else ""
    return f"{lead}{body}{tail}"


ARTICLE_PART_CHARS = 200_000


def article_parts(paragraphs: list[str], limit: int = ARTICLE_PART_CHARS) -> list[list[str]]:
    """``paragraphs`` in parts of at most ``limit`` characters, each shown on a page of its own
    (a 5,000,000-character body took Chromium 2.6 s to show whole; news articles are far below
    one part). A paragraph longer than a part is cut at a space (or, without one, anywhere)."""
    parts: list[list[str]] = [[]]
    size = 0
    for para in paragraphs:
        while len(para) > limit:
            cut = para.rfind(" ", limit // 2, limit)
            cut = cut if cut > 0 else limit
            if parts[-1]:
                parts.append([])
            parts[-1].append(para[:cut])
            parts.append([])
            size, para = 0, para[cut:].lstrip()
        if parts[-1] and size + len(para) > limit:
            parts.append([])
            size = 0
        if para:
            parts[-1].append(para)
            size += len(para)
    return [p for p in parts if p] or [[]]


def split_paragraphs(text: str) -> list[str]:
    """Paragraphs of a body: blank lines separate them; single line breaks are kept as spaces."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text or "")]
    paragraphs = [p for p in paragraphs if p]
    if len(paragraphs) == 1 and "\n" in (text or "").strip():
        # wire copy often breaks paragraphs with a single newline and an indent
        paragraphs = [" ".join(p.split()) for p in re.split(r"\n(?=\s)", text) if p.strip()]
    return paragraphs


def highlighted_article(headline: str, body: str, terms: dict, analyzers: dict,
                        part: int = 1) -> tuple[str, list[str], int]:
    """The headline and the paragraphs of one part of ``body`` (``article_parts``) as escaped
    HTML, with ``terms`` ({field: words}) in ``<mark>`` (``analyzers``: {field: analyzer}); and
    how many parts there are. ``part`` past the last is the last."""
    marked = highlight_whole(headline, terms.get("headline", frozenset()), analyzers["headline"])
    parts = article_parts(split_paragraphs(body))
    shown = parts[min(max(part, 1), len(parts)) - 1]
    paragraphs = [highlight_whole(p, terms.get("body", frozenset()), analyzers["body"])
                  for p in shown]
    return marked, paragraphs, len(parts)
