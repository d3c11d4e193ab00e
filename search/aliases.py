"""The archive's aliases file: the archivist's own corrections to the names of people,
organisations and places, applied to every article (see ``docs/aliases.md``).

A TOML file with three kinds of tables, each per kind of name (``people``,
``organizations``, ``places``)::

    [merge.people]                      # these spellings become the name on the left
    "Khloé Kardashian" = ["Khloe Kardashian", "Khloe K"]

    [reject]                            # never this kind of name
    people = ["Harry Potter", "Lib Dems"]

    [move.people]                       # not a person: an organisation (or a place)
    "Manchester United" = "organizations"

Names are matched with case and accents ignored. ``ingest.py --aliases FILE`` checks the file,
keeps a copy in the index folder (``aliases.toml``), rewrites the names of the stored articles
it concerns (from the names as they were found, kept beside them, so that taking an alias out
of the file restores them) and applies it to every article ingested afterwards.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from search.analysis import exact_key
from search.errors import SourceError
from search.models import ENTITY_KINDS

ALIASES_FILE = "aliases.toml"
SECTIONS = ("merge", "reject", "move")


class AliasesError(SourceError):
    """An aliases file that cannot be used: unreadable, not TOML, or not of this shape."""


@dataclass
class Aliases:
    # {kind: {folded spelling: the name it becomes}}
    merge: dict[str, dict[str, str]] = field(default_factory=lambda: {k: {} for k in ENTITY_KINDS})
    # {kind: {folded name}}
    reject: dict[str, set[str]] = field(default_factory=lambda: {k: set() for k in ENTITY_KINDS})
    # {kind: {folded name: the kind it goes to}}
    move: dict[str, dict[str, str]] = field(default_factory=lambda: {k: {} for k in ENTITY_KINDS})
    # {kind: {folded name: [spellings merged into it, as the file writes them]}}
    spellings: dict[str, dict[str, list[str]]] = field(
        default_factory=lambda: {k: {} for k in ENTITY_KINDS})
    text: str = ""  # the file as read

    def __bool__(self) -> bool:
        return any(self.merge[k] or self.reject[k] or self.move[k] for k in ENTITY_KINDS)

    # -- reading -------------------------------------------------------------------------------

    @classmethod
    def parse(cls, text: str, origin: str = "aliases file") -> Aliases:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise AliasesError(f"{origin}: not TOML: {exc}") from None
        out = cls(text=text)
        for section in data:
            if section not in SECTIONS:
                raise AliasesError(f"{origin}: unknown table [{section}]: the tables are "
                                   f"[merge.<kind>], [reject] and [move.<kind>]")
            if not isinstance(data[section], dict):
                raise AliasesError(f"{origin}: {section} must be a table ([{section}])")
            for kind in data[section]:
                if kind not in ENTITY_KINDS:
                    raise AliasesError(f"{origin}: [{section}.{kind}]: the kinds are "
                                       f"{', '.join(ENTITY_KINDS)}")
        for kind, table in data.get("merge", {}).items():
            if not isinstance(table, dict):
                raise AliasesError(f'{origin}: [merge.{kind}] holds lines like "Name" = '
                                   f'["Other spelling", ...]')
            for name, variants in table.items():
                if isinstance(variants, str):
                    variants = [variants]
                if not _names(variants) or not name.strip():
                    raise AliasesError(f"{origin}: [merge.{kind}] {name!r}: give a list of "
                                       f"spellings (strings) that become it")
                target = exact_key(name)
                for variant in variants:
                    key = exact_key(variant)
                    if key == target:
                        continue
                    earlier = out.merge[kind].get(key)
                    if earlier is not None and earlier != name.strip():
                        raise AliasesError(f"{origin}: [merge.{kind}] {variant!r} is merged "
                                           f"into both {earlier!r} and {name!r}")
                    out.merge[kind][key] = name.strip()
                    out.spellings[kind].setdefault(target, []).append(variant.strip())
        for kind, names in data.get("reject", {}).items():
            if not _names(names):
                raise AliasesError(f'{origin}: [reject] {kind} = ["Name", ...]: a list of names')
            out.reject[kind] = {exact_key(n) for n in names}
        for kind, table in data.get("move", {}).items():
            if not isinstance(table, dict):
                raise AliasesError(f'{origin}: [move.{kind}] holds lines like "Name" = '
                                   f'"organizations"')
            for name, target in table.items():
                if target not in ENTITY_KINDS or target == kind:
                    raise AliasesError(f"{origin}: [move.{kind}] {name!r} = {target!r}: move to "
                                       f"one of the other kinds: "
                                       f"{', '.join(k for k in ENTITY_KINDS if k != kind)}")
                out.move[kind][exact_key(name)] = target
        for kind in ENTITY_KINDS:
            chained = {exact_key(n) for n in out.merge[kind].values()} & out.merge[kind].keys()
            if chained:
                raise AliasesError(f"{origin}: [merge.{kind}] {sorted(chained)[0]!r} is both a "
                                   f"name merged into another and a name others are merged "
                                   f"into: merge every spelling into the last one")
            both = out.reject[kind] & (out.merge[kind].keys()
                                       | {exact_key(n) for n in out.merge[kind].values()})
            if both:
                raise AliasesError(f"{origin}: {sorted(both)[0]!r} is both rejected and merged "
                                   f"as one of the {kind}")
        return out

    @classmethod
    def read(cls, path: Path) -> Aliases:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AliasesError(f"cannot read the aliases file {path}: "
                               f"{getattr(exc, 'strerror', None) or exc}") from None
        return cls.parse(text, str(path))

    @classmethod
    def installed(cls, directory: Path) -> Aliases:
        """The aliases the archive in ``directory`` applies (none without the file)."""
        path = Path(directory) / ALIASES_FILE
        return cls.read(path) if path.exists() else cls()

    def install(self, directory: Path) -> None:
        """Keep this file as the archive's aliases (written whole, then renamed into place)."""
        path = Path(directory) / ALIASES_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.text, encoding="utf-8")
        os.replace(tmp, path)

    # -- applying ------------------------------------------------------------------------------

    def apply(self, names: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
        """An article's names ({kind: names}) as the file wants them: moved, rejected, merged,
        each once (case and accents ignored), in the order found."""
        out: dict[str, list[str]] = {k: [] for k in ENTITY_KINDS}
        seen: dict[str, set[str]] = {k: set() for k in ENTITY_KINDS}
        for kind in ENTITY_KINDS:
            for name in names.get(kind, ()):
                key = exact_key(name)
                target = self.move[kind].get(key, kind)
                if key in self.reject[kind] or key in self.reject[target]:
                    continue
                name = self.merge[target].get(key, name)
                key = exact_key(name)
                if key not in seen[target]:
                    seen[target].add(key)
                    out[target].append(name)
        return {k: tuple(v) for k, v in out.items()}

    def applied(self, articles: list) -> tuple[list, dict[str, dict]]:
        """``articles`` with the file applied, and {id: its names as found} of those it
        changed (what both engines' indexers keep, so that a file without the alias gives the
        names back)."""
        if not self:
            return articles, {}
        out, found = [], {}
        for a in articles:
            names = {k: getattr(a, k) for k in ENTITY_KINDS}
            new = self.apply(names)
            if new != names:
                found[a.id] = {k: list(v) for k, v in names.items() if v}
                a = replace(a, **new)
            out.append(a)
        return out, found

    def concerns(self) -> dict[str, set[str]]:
        """{kind: folded names}: the names an article must have for the file to change it."""
        out = {k: set(self.merge[k]) | self.reject[k] | set(self.move[k]) for k in ENTITY_KINDS}
        return out

    def spellings_of(self, kind: str, name: str) -> list[str]:
        """The spellings the file merges into ``name`` (one of ``kind``)."""
        return list(self.spellings[kind].get(exact_key(name), ()))


def _names(values) -> bool:
    return isinstance(values, list) and bool(values) and all(
        isinstance(v, str) and v.strip() for v in values)
