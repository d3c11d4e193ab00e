"""The archive's aliases file (``search.aliases``, ``ingest.py --aliases``): merging spellings,
rejecting and moving names over the whole archive without the sources, taken back by a file
without them, applied to later ingests, shown on entity pages."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from search.aliases import ALIASES_FILE, Aliases, AliasesError
from search.cluster import parse_shards
from search.errors import ArticleNotFound
from search.service import Archive
from web import create_app

from .clusters import Cluster
from .conftest import ENGINES, run_ingest, summary_of, write_jsonl
from .plain import all_articles

RECORDS = [
    {"id": "a1", "headline": "Harbour plan", "body": "A plan.", "date": "2024-01-02",
     "people": ["John Harrow", "Mara Quill"], "organizations": ["Quay Rovers"]},
    {"id": "a2", "headline": "Harbour vote", "body": "A vote.", "date": "2024-02-03",
     "people": ["Jon Harrow"], "organizations": ["Harbour Board"]},
    {"id": "a3", "headline": "Harbour fête", "body": "A fête.", "date": "2025-03-04",
     "people": ["J. Harrow", "Harry Potter"], "places": ["Marlow Quay"]},
    {"id": "a4", "headline": "Ferry fares", "body": "Fares.", "date": "2025-04-05",
     "people": ["Quay Rovers", "Mara Quill"]},
]

ALIASES = """
# the archive's corrections
[merge.people]
"John Harrow" = ["Jon Harrow", "J. Harrow"]

[reject]
people = ["Harry Potter"]

[move.people]
"Quay Rovers" = "organizations"
"""


@dataclass
class Target:
    """An archive on one engine: ``where`` (ingest.py's arguments naming it), ``config`` (the
    web app's settings)."""

    engine: str
    where: tuple
    config: dict

    def articles(self) -> dict:
        if self.engine == "whoosh":
            return {a.id: a for a in all_articles(Path(self.config["NEWS_INDEX"]))}
        archive = Archive(engine="xapian", shards=self.config["NEWS_SHARDS"])
        try:
            return {i: archive.article(i) for i in [r["id"] for r in RECORDS] + ["b1"]
                    if _exists(archive, i)}
        finally:
            archive.close()

    def aliases_kept(self) -> str | None:
        """The aliases file the archive keeps (Whoosh: in its folder; Xapian: every shard's
        metadata, the same on each)."""
        if self.engine == "whoosh":
            path = Path(self.config["NEWS_INDEX"]) / ALIASES_FILE
            return path.read_text(encoding="utf-8") if path.exists() else None
        import xapian

        texts = {xapian.remote_open(*s.read).get_metadata("aliases").decode("utf-8")
                 for s in parse_shards(self.config["NEWS_SHARDS"])}
        assert len(texts) == 1
        return texts.pop() or None


def _exists(archive, article_id) -> bool:
    try:
        archive.article(article_id)
    except ArticleNotFound:
        return False
    return True


def names(target: Target, kind="people") -> dict[str, tuple[str, ...]]:
    return {i: getattr(a, kind) for i, a in target.articles().items()}


@pytest.fixture(params=ENGINES)
def archive(request, tmp_path):
    """RECORDS ingested into a Whoosh index, or into a real 3-shard Xapian cluster."""
    source = write_jsonl(tmp_path / "a.jsonl", RECORDS)
    cluster = None
    if request.param == "xapian":
        cluster = Cluster(tmp_path / "cluster", shards=3, replicas=0)
        target = Target("xapian", ("--engine", "xapian", "--shards", cluster.value),
                        {"NEWS_ENGINE": "xapian", "NEWS_SHARDS": cluster.value})
    else:
        index = tmp_path / "ix"
        target = Target("whoosh", ("--index", index), {"NEWS_INDEX": str(index)})
    try:
        assert run_ingest(*target.where, "-q", source).returncode == 0
        yield target, source
    finally:
        if cluster is not None:
            cluster.stop()


def test_an_aliases_file_merges_rejects_and_moves_over_the_stored_archive(archive, tmp_path):
    index, source = archive
    before = index.articles()
    (tmp_path / "aliases.toml").write_text(ALIASES, encoding="utf-8")
    result = run_ingest(*index.where, "--aliases", tmp_path / "aliases.toml", "--json")
    assert result.returncode == 0, result.stderr
    assert summary_of(result)["aliases_applied"] == 3  # a2, a3 (merged, rejected), a4 (moved)
    people = names(index)
    assert people == {"a1": ("John Harrow", "Mara Quill"), "a2": ("John Harrow",),
                      "a3": ("John Harrow",), "a4": ("Mara Quill",)}
    assert names(index, "organizations")["a4"] == ("Quay Rovers",)
    # the texts, dates and fingerprints stay: the same source is unchanged, names and all
    after = index.articles()
    for key, art in after.items():
        assert (art.headline, art.body, art.date) == (before[key].headline, before[key].body,
                                                     before[key].date)
    again = summary_of(run_ingest(*index.where, "--json", source))
    assert again["unchanged"] == 4 and names(index) == people
    assert index.aliases_kept() == ALIASES
    # the facet and the profile count the merged name as one: a plain count of the three
    app = create_app({**index.config, "TESTING": True})
    client = app.test_client()
    facet = {v["value"]: v["count"] for v in
             client.get("/api/search?facet_size=50").get_json()["facets"]["people"]}
    plain = Counter(p for r in RECORDS for p in r.get("people", ())
                    if p in ("John Harrow", "Jon Harrow", "J. Harrow"))
    assert facet["John Harrow"] == sum(plain.values()) == 3
    assert "Jon Harrow" not in facet and "Harry Potter" not in facet
    assert "Quay Rovers" not in facet
    profile = client.get("/api/people/John%20Harrow").get_json()
    assert profile["aliases"] == ["Jon Harrow", "J. Harrow"] and profile["articles"] == 3
    page = client.get("/people/John%20Harrow").get_data(as_text=True)
    assert "Also written" in page and "Jon Harrow" in page
    assert client.get("/api/people/Jon%20Harrow").status_code == 404


def test_later_ingests_get_the_aliases_and_an_empty_file_takes_them_back(archive, tmp_path):
    index, source = archive
    (tmp_path / "aliases.toml").write_text(ALIASES, encoding="utf-8")
    assert run_ingest(*index.where, "--aliases", tmp_path / "aliases.toml").returncode == 0
    new = write_jsonl(tmp_path / "b.jsonl", [{"id": "b1", "headline": "Harbour review",
                                              "body": "Jon Harrow spoke.", "date": "2025-06-01",
                                              "people": ["Jon Harrow", "Harry Potter"]}])
    assert run_ingest(*index.where, "-q", new).returncode == 0
    assert names(index)["b1"] == ("John Harrow",)
    # taking the aliases out gives every article its names as found, without the sources
    (tmp_path / "none.toml").write_text("# no aliases\n", encoding="utf-8")
    result = run_ingest(*index.where, "--aliases", tmp_path / "none.toml")
    assert result.returncode == 0, result.stderr
    assert "aliases changed the names of 4 stored articles" in result.stdout
    assert names(index) == {**{r["id"]: tuple(r["people"]) for r in RECORDS},
                            "b1": ("Jon Harrow", "Harry Potter")}
    assert names(index, "organizations")["a4"] == ()


def test_a_dry_run_counts_and_changes_nothing(archive, tmp_path):
    index, _ = archive
    (tmp_path / "aliases.toml").write_text(ALIASES, encoding="utf-8")
    result = run_ingest(*index.where, "--aliases", tmp_path / "aliases.toml", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "aliases would change the names of 3 stored articles" in result.stdout
    assert names(index) == {r["id"]: tuple(r["people"]) for r in RECORDS}
    assert index.aliases_kept() is None


@pytest.mark.parametrize("text,message", [
    ("[merge.people]\n\"A\" = [\"B\"]\n[merge.people", "not TOML"),
    ("[merge.persons]\n\"A\" = [\"B\"]\n", "the kinds are people"),
    ("[rename.people]\n\"A\" = [\"B\"]\n", "unknown table [rename]"),
    ("[merge.people]\n\"A\" = [\"B\"]\n\"C\" = [\"b\"]\n", "merged into both"),
    ("[merge.people]\n\"A\" = [\"B\"]\n\"B\" = [\"C\"]\n", "merge every spelling into"),
    ("[merge.people]\n\"A\" = [\"B\"]\n[reject]\npeople = [\"A\"]\n", "both rejected and"),
    ("[move.people]\n\"A\" = \"teams\"\n", "move to one of the other kinds"),
    ("[merge.people]\n\"A\" = 3\n", "give a list of spellings"),
])
def test_a_bad_aliases_file_is_refused_with_a_reason_and_changes_nothing(archive, tmp_path,
                                                                        text, message):
    index, _ = archive
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    result = run_ingest(*index.where, "--aliases", bad)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert names(index) == {r["id"]: tuple(r["people"]) for r in RECORDS}
    with pytest.raises(AliasesError, match=message.replace("[", r"\[")):
        Aliases.parse(text)


def test_aliases_match_names_with_case_and_accents_ignored():
    aliases = Aliases.parse('[merge.people]\n"Khloé Ardent" = ["khloe ardente"]\n'
                            '[reject]\nplaces = ["GYPSY"]\n')
    out = aliases.apply({"people": ("Khloe Ardente", "Khloé Ardent"), "places": ("Gypsy",),
                         "organizations": ()})
    assert out == {"people": ("Khloé Ardent",), "organizations": (), "places": ()}


def test_a_version_joining_an_aliased_article_keeps_its_names_as_found(archive, tmp_path):
    """An aliased article written again because its story changed (an earlier version came)
    keeps its names as found: a file without the alias still gives them back."""
    index, _source = archive
    aliases = tmp_path / "aliases.toml"
    aliases.write_text(ALIASES, encoding="utf-8")
    assert run_ingest(*index.where, "--aliases", aliases, "--json").returncode == 0
    earlier = write_jsonl(tmp_path / "b.jsonl", [{**RECORDS[1], "id": "b1",
                                                  "date": "2024-02-01"}])
    assert run_ingest(*index.where, "--json", earlier).returncode == 0
    archive = Archive(engine="xapian", shards=index.config["NEWS_SHARDS"]) \
        if index.engine == "xapian" else Archive(Path(index.config["NEWS_INDEX"]))
    try:
        assert archive.story("a2").id == "b1"  # a2 was written again, its lead now b1
    finally:
        archive.close()
    assert names(index)["a2"] == names(index)["b1"] == ("John Harrow",)
    aliases.write_text("# no aliases\n", encoding="utf-8")
    assert run_ingest(*index.where, "--aliases", aliases, "--json").returncode == 0
    assert (names(index)["a2"], names(index)["b1"]) == (("Jon Harrow",), ("Jon Harrow",))
