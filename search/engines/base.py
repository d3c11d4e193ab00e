"""What an engine is, to the rest of ``search/``: the ``Archive`` methods it answers (those of
``search.service.Archive``) and ``Features``, the capability flags a front or a test reads
before it asks for something an engine may not do (Django's ``DatabaseFeatures``, Wagtail's
``supports_facet``).

An engine that cannot do something raises ``search.errors.NotSupported`` (the API answers 501
with the feature named); it never answers as if it had done it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Features:
    exact_facets: bool = True  # facet counts over every matching article, never a page
    multi_select_facets: bool = True  # each facet counted without its own filter
    phrases: bool = True
    prefixes: bool = True
    fuzzy: bool = True  # word~
    proximity: bool = True  # "a b"~N, a NEAR/N b
    exact_words: bool = True  # exact:word
    date_operator: bool = True  # date:1987
    stories: bool = True  # versions of one story grouped
    spelling: bool = True  # "did you mean"
    related: bool = True
    entities: bool = True  # entity pages, name look-ups
    trends: bool = True
    kwic: bool = True
    significant: bool = True
    aliases: bool = True  # an aliases file applied at ingest
    partial_answers: bool = False  # answers from the shards that answered, marked partial
    time_limit: bool = True  # a search past the time limit is refused (SearchTimeout)
