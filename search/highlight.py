"""Escaped excerpts with the matched words in ``<mark>``.

Everything that is not a mark is HTML-escaped (quotes too), so article text such as
``<script>`` or ``&amp;`` shows as text. Matching is done by running the field's own analyzer
over the stored text, so stems ("elections" for "election"), phrase words and prefix expansions
are marked exactly where the index matched them.
"""

from __future__ import annotations

import html

from whoosh.highlight import (FIRST, BasicFragmentScorer, ContextFragmenter, Formatter,
                              WholeFragmenter, get_text, set_matched_filter, top_fragments)
from whoosh.highlight import highlight as whoosh_highlight

SNIPPET_CHARS = 300
SEPARATOR = " … "
ELLIPSIS = "…"


def escape(text: str) -> str:
    return html.escape(text, quote=True)


class MarkFormatter(Formatter):
    """``<mark>`` around matches, everything else escaped, fragments joined with " … "."""

    between = SEPARATOR

    def format_token(self, text, token, replace=False):
        return f"<mark>{escape(get_text(text, token, replace))}</mark>"

    def _text(self, text):
        return escape(text)

    def format(self, fragments, replace=False):
        if not fragments:
            return ""
        joined = self.between.join(self.format_fragment(f, replace=replace) for f in fragments)
        # say when the excerpt starts or ends inside the text
        lead = ELLIPSIS if fragments[0].startchar > 0 else ""
        tail = ELLIPSIS if fragments[-1].endchar < len(fragments[-1].text) else ""
        return f"{lead}{joined}{tail}"


def highlight_whole(text: str, terms: frozenset[str], analyzer) -> str:
    """All of ``text`` (a headline), escaped, with matches marked."""
    if not text:
        return ""
    if terms:
        marked = whoosh_highlight(text, terms, analyzer, WholeFragmenter(), MarkFormatter(),
                                  top=1, minscore=1)
        if marked:
            return marked
    return escape(text)


def opening(text: str, limit: int = SNIPPET_CHARS) -> str:
    """The first ``limit`` characters of ``text``, cut at a word, escaped."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return escape(text)
    cut = text[:limit].rsplit(" ", 1)[0] or text[:limit]
    return escape(cut.rstrip(" ,;:")) + ELLIPSIS


def _fragments(text: str, tokens: list, size: int, top: int):
    fragmenter = ContextFragmenter(maxchars=size, surround=max(15, (size - 20) // 2))
    return top_fragments(fragmenter.fragment_tokens(text, tokens), top, BasicFragmentScorer(),
                         FIRST, minscore=1)


def snippet(text: str, terms: frozenset[str], analyzer, limit: int = SNIPPET_CHARS) -> str:
    """The 1-3 best fragments of ``text`` with matches marked, about ``limit`` characters in all;
    the opening of the text when nothing in it matches."""
    if not text:
        return ""
    flat = " ".join(text.split())
    if terms:
        # analyse once; the fragmenter reads the tokens twice
        tokens = [t.copy() for t in set_matched_filter(
            analyzer(flat, chars=True, mode="query", removestops=False), terms)]
        # how many separate places match decides how wide each fragment may be
        found = _fragments(flat, tokens, limit // 3, 3)
        if found:
            if len(found) < 3:
                found = _fragments(flat, tokens, limit // len(found), len(found))
            return MarkFormatter()(flat, found)
    return opening(flat, limit)
