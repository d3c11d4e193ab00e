"""Organisations and places: canonical names, from records and from tag ids.

Shared by every engine, like ``search.people`` (whose person-only rules do not apply here: an
organisation written in capitals, "OPEC", stays in capitals). ``split_names`` reads a record's
``organizations`` or ``places`` field; ``organization_from_id`` and ``place_from_id`` turn
Reuters-21578's ``ORGS`` and ``PLACES`` tag ids into names people recognise: organisations by
their acronyms in capitals ("opec" -> "OPEC", "ico-coffee" -> "ICO (Coffee)"), countries by
their names, found by ``pycountry`` (ISO 3166, current and historic) where its name is the
common one, else the tag's words ("west-germany" -> "West Germany").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from functools import lru_cache

from search.models import ENTITY_KINDS

_WS = re.compile(r"\s+")
MAX_NAME_CHARS = 200

# Reuters' tag ids that are neither an acronym nor a country's words
_ORG_IDS = {"worldbank": "World Bank"}
# Reuters' place ids that are codes of their own (not ISO's) or older names than ISO's
_PLACE_IDS = {
    "uk": "United Kingdom", "ussr": "Soviet Union", "uae": "United Arab Emirates",
    "usa": "United States", "us-virgin-islands": "US Virgin Islands",
    "trinidad-tobago": "Trinidad and Tobago",
    "yemen-arab-republic": "North Yemen", "yemen-demo-republic": "South Yemen",
}


def canonical_entity(name: object) -> str:
    """An organisation's or a place's name as written, tidied: one space between words, no
    control characters, no commas (names are stored comma-separated), no quotes or unpaired
    brackets around it. Case and full stops are kept ("OPEC", "eBay", "U.S.")."""
    name = unicodedata.normalize("NFC", str(name))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = _WS.sub(" ", name.replace(",", " ").replace(";", " ")).strip(" -'\"“”‘’")
    # brackets around it, or one left open or closed, go; a pair inside stays ("ICO (Coffee)");
    # full stops stay ("U.S.", "Acme Inc.")
    while name and (name[0] in "([" and name[-1] in ")]" or
                    name.count("(") != name.count(")") or name.count("[") != name.count("]")):
        if name[0] in "([" and name[-1] in ")]":
            name = name[1:-1]
        elif name[-1] in ")]" or name[0] in "([":
            name = name[:-1] if name[-1] in ")]" else name[1:]
        else:
            name = name.replace("(", "").replace(")", "").replace("[", "").replace("]", "")
        name = name.strip(" -'\"“”‘’")
    return _WS.sub(" ", name)[:MAX_NAME_CHARS].strip()


def split_names(value: object, kind: str,
                canonical: Callable[[str], str] = canonical_entity) -> tuple[str, ...] | None:
    """A record's ``kind`` field (of ``ENTITY_KINDS``) as a tuple of names made canonical by
    ``canonical`` (``search.people.canonical_name`` for people), each once (case ignored);
    ``None`` when the field is absent. A list, or a string separated by ``;``, ``|`` or ``,``;
    a list item may be ``{"name": ...}``."""
    assert kind in ENTITY_KINDS
    if value is None:
        return None
    if isinstance(value, str):
        sep = ";" if ";" in value else "|" if "|" in value else ","
        items: Iterable = value.split(sep)
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise ValueError(f"{kind} must be a list or a string, not {type(value).__name__}")
    out: list[str] = []
    seen: set[str] = set()
    for item in items:
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            item = item["name"]
        if not isinstance(item, str):
            raise ValueError(f"each of {kind} must be a name (a string)")
        name = canonical(item)
        if name and name.casefold() not in seen:
            seen.add(name.casefold())
            out.append(name)
    return tuple(out)


def organization_from_id(tag: str) -> str:
    """``opec`` -> ``OPEC``; ``ico-coffee`` -> ``ICO (Coffee)``; ``worldbank`` -> ``World Bank``."""
    tag = tag.strip().lower()
    if tag in _ORG_IDS:
        return _ORG_IDS[tag]
    head, _, rest = tag.partition("-")
    return f"{head.upper()} ({rest.replace('-', ' ').title()})" if rest else head.upper()


@lru_cache(maxsize=1024)
def place_from_id(tag: str) -> str:
    """A Reuters place id as the place's name: ``west-germany`` -> ``West Germany``,
    ``usa`` -> ``United States``, ``hong-kong`` -> ``Hong Kong``, ``vietnam`` -> ``Vietnam``."""
    tag = tag.strip().lower()
    if tag in _PLACE_IDS:
        return _PLACE_IDS[tag]
    words = " ".join(w[:1].upper() + w[1:] for w in re.split(r"[-_\s]+", tag) if w)
    country = _country(words) or _country(tag)
    return country or words


def country_name(text: str) -> str | None:
    """The common name of the country ``text`` names exactly (case ignored), else None."""
    return _country(text)


def _country(text: str) -> str | None:
    """The common name of the country ``text`` names (exactly, case ignored) in ISO 3166;
    None if none does, or if its only name is the inverted official form ("Korea, Republic
    of"), which people do not write."""
    import pycountry

    for table in (pycountry.countries, pycountry.historic_countries):
        try:
            found = table.lookup(text)
        except LookupError:
            continue
        name = getattr(found, "common_name", None) or found.name
        return None if "," in name else name
    return None
