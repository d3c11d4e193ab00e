"""Hostile articles in every ingest format, written at test time."""

from __future__ import annotations

import json
from pathlib import Path

XSS = ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '"><svg onload=alert(1)>',
       "'><iframe src=javascript:alert(1)>"]
MARKUP = " ".join(XSS)
RAW_MARKERS = ["<script>alert", "<img src=x", "<svg onload", "<iframe src", 'href="javascript:',
               'href="data:']
ZERO_WIDTH_RTL = "\u200b\u200d\u202eevil\u202c\u2066"


def write_hostile_files(folder: Path) -> dict:
    """Write one file per format; return {"stored": ids that must be stored safely,
    "rejected": [(file name, location, reason fragment)]}."""
    folder.mkdir(parents=True, exist_ok=True)
    stored, rejected = [], []

    # JSON Lines
    lines = [
        json.dumps({"id": "h-markup", "headline": f"Markup {MARKUP}", "body": f"Body {MARKUP}",
                    "people": [f"Person {XSS[1]}"], "section": XSS[0], "byline": XSS[2],
                    "source": XSS[3], "url": "javascript:alert(1)", "date": "2021-01-01"}),
        json.dumps({"id": "h-data-url", "headline": "Data URL story", "body": "harmless",
                    "url": "data:text/html,<script>alert(1)</script>", "people": []}),
        json.dumps({"id": "h-control", "headline": "Control\x00chars\x07here\x1b[31m",
                    "body": "nul\x00 and \x08 backspace and \x7f delete", "people": []}),
        json.dumps({"id": "h-rtl", "headline": f"Right-to-left {ZERO_WIDTH_RTL} headline",
                    "body": f"Zero width {ZERO_WIDTH_RTL} body", "people": [ZERO_WIDTH_RTL + "x"]}),
        json.dumps({"id": "h-huge", "headline": "Huge", "body": "x" * (20 * 2**20)}),
        '{"id": "h-nested", "headline": ' + "[" * 100_000 + "]" * 100_000 + "}",
        json.dumps({"id": "h-many-people", "headline": "Crowd",
                    "people": [f"Person {i}" for i in range(10_000)]}),
    ]
    jsonl = folder / "hostile.jsonl"
    with jsonl.open("wb") as fh:
        for line in lines:
            fh.write(line.encode("utf-8") + b"\n")
        fh.write(b'{"id": "h-bad-utf8", "headline": "caf\xe9 \xff\xfe"}\n')
    stored += ["h-markup", "h-data-url", "h-control", "h-rtl"]
    rejected += [("hostile.jsonl", "line 5", "body longer than"),
                 ("hostile.jsonl", "line 6", "nested too deeply"),
                 ("hostile.jsonl", "line 7", "more than 1000 people"),
                 ("hostile.jsonl", "line 8", "not UTF-8")]

    # JSON array
    arr = folder / "hostile.json"
    arr.write_text("[" + json.dumps({"id": "h-json-markup", "title": MARKUP, "text": MARKUP,
                                     "persons": XSS, "category": XSS[1]})
                   + ', {"id": "h-json-nested", "headline": ' + "[" * 5000 + "]" * 5000 + "}"
                   + "]", encoding="utf-8")
    stored.append("h-json-markup")
    rejected.append(("hostile.json", "record 2", "headline must be text"))

    # CSV: markup, a ragged row, a line that is not UTF-8
    csv_path = folder / "hostile.csv"
    csv_path.write_bytes(
        b"id,title,text,category,link\n"
        + f'h-csv-markup,"{MARKUP.replace(chr(34), chr(34) * 2)}","{MARKUP.replace(chr(34), chr(34) * 2)}",'
          f'"{XSS[0]}",javascript:alert(1)\n'.encode("utf-8")
        + b"h-csv-ragged,only,three\n"
        + b"h-csv-latin,Caf\xe9 opens,Cr\xe8me br\xfbl\xe9e,Food,\n")
    stored += ["h-csv-markup", "h-csv-latin"]
    rejected.append(("hostile.csv", "line 3", "row has 3 fields"))

    # Plain text: markup with a header block, and a file that is not UTF-8
    (folder / "texts").mkdir(exist_ok=True)
    (folder / "texts" / "markup.txt").write_text(
        f"Id: h-text-markup\nSection: {XSS[0]}\nPeople: {XSS[1]}\nURL: javascript:alert(1)\n\n"
        f"Headline {XSS[2]}\n\n{MARKUP}\n", encoding="utf-8")
    (folder / "texts" / "latin.txt").write_bytes(b"Id: h-text-latin\n\nCaf\xe9 \x00 news\n\nBody\n")
    stored += ["h-text-markup", "h-text-latin"]

    # Reuters-style SGML: markup inside elements, and an element never closed
    sgm = folder / "hostile.sgm"
    sgm.write_bytes((
        '<REUTERS NEWID="9001">\n<DATE>1-JAN-1990 00:00:00.00</DATE>\n<TOPICS><D>&lt;b&gt;</D></TOPICS>\n'
        '<PEOPLE><D>evil-person</D></PEOPLE>\n<TEXT>\n<TITLE>&lt;script&gt;alert(1)&lt;/script&gt; '
        'TITLE</TITLE>\n<BODY>Body with <img src=x onerror=alert(1)> raw markup &#3;</BODY>\n'
        '</TEXT>\n</REUTERS>\n<REUTERS NEWID="9002">\n<TITLE>never closed\n').encode("latin-1"))
    stored.append("reuters-9001")
    rejected.append(("hostile.sgm", "line 10", "not closed"))
    return {"stored": stored, "rejected": rejected}
