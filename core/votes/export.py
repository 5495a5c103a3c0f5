"""All votes as a file a session leader takes away: JSON (exact) or CSV (one row per vote, for a
spreadsheet), and read back.

CSV columns use the arms' stable names, never their labels: ``letter:<arm>`` is the letter its
answer was shown under (empty: not shown) and ``answer:<arm>`` its text; ``best`` lists the arms
voted best, separated by ``;``.
"""

from __future__ import annotations

import csv
import io
import json

from core.compare.arms import ARM_TABLE
from core.votes.record import Vote

SCALARS = ("id", "created_at", "voter", "session_id", "comparison_id", "question", "kb", "kb_version", "model",
           "model_fingerprint", "dtype", "adapter", "adapter_id", "adapter_fingerprint", "top_k", "require_support", "all_bad")
ARMS = tuple(a.name for a in ARM_TABLE)
COLUMNS = (SCALARS + ("best", "decoding") + tuple(f"letter:{a}" for a in ARMS) + tuple(f"answer:{a}" for a in ARMS))
OPTIONAL = ("adapter", "adapter_id", "adapter_fingerprint", "top_k")  # empty cell: not recorded
ADDED_LATER = ("dtype",)  # a file exported before these columns existed reads with their defaults


_FORMULA = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet runs a cell that starts with these as a formula


def _cell(text: str) -> str:
    """Free text (a question, an answer, a voter's name) made inert for spreadsheets: a leading
    apostrophe before a formula character (OWASP's advice on CSV injection), removed on reading back."""
    return "'" + text if text.startswith(_FORMULA) else text


def _uncell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(_FORMULA) else text


def votes_json(votes: list[Vote]) -> bytes:
    return json.dumps([v.model_dump(mode="json") for v in votes], indent=2, ensure_ascii=False).encode("utf-8")


def read_votes_json(data: bytes) -> list[Vote]:
    return [Vote.model_validate(row) for row in json.loads(data.decode("utf-8"))]


def votes_csv(votes: list[Vote]) -> bytes:
    """One row per vote; UTF-8 with a byte-order mark, so a spreadsheet opens Korean or accented text right."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    for v in votes:
        arm_letter = {arm: letter for letter, arm in v.letters.items()}
        row = {f: getattr(v, f) for f in SCALARS}
        row.update(best=";".join(v.best), decoding=json.dumps(v.decoding, sort_keys=True))
        row.update({f"letter:{a}": arm_letter.get(a, "") for a in ARMS})
        row.update({f"answer:{a}": _cell(v.answers.get(a, "")) for a in ARMS})
        row.update(question=_cell(v.question), voter=_cell(v.voter or ""))
        writer.writerow({k: "" if value is None else value for k, value in row.items()})
    return out.getvalue().encode("utf-8-sig")


def read_votes_csv(data: bytes) -> list[Vote]:
    votes = []
    for row in csv.DictReader(io.StringIO(data.decode("utf-8-sig"))):
        letters = dict(sorted((row[f"letter:{a}"], a) for a in ARMS if row.get(f"letter:{a}")))
        fields = {f: row[f] for f in SCALARS if not (f in OPTIONAL and row[f] == "") and not (f in ADDED_LATER and f not in row)}
        fields.update(question=_uncell(row["question"]), voter=_uncell(row["voter"]))
        fields.update(require_support=row["require_support"] == "True", all_bad=row["all_bad"] == "True")
        votes.append(Vote(**fields, decoding=json.loads(row["decoding"] or "{}"), letters=letters,
                          answers={a: _uncell(row[f"answer:{a}"]) for a in letters.values()},
                          best=[a for a in row["best"].split(";") if a in ARMS]))
    return votes
