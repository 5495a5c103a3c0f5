"""The defaults that rest on the development-set measurement follow it (bench/verdict.py --record
writes bench/devset/measured.json): change the measurement, and the default must be decided again."""

import json

from core.config import RetrievalSettings
from core.eval.agreement import DEVSET_DIR

MEASURED = DEVSET_DIR / "measured.json"


def test_withholding_is_on_by_default_only_where_it_takes_three_wrong_answers_for_each_right_one():
    measured = json.loads(MEASURED.read_text(encoding="utf-8"))
    dev = measured["tallies"]["dev"]
    open_book = [dev[arm] for arm in ("rag", "hybrid", "oracle") if arm in dev]
    right = sum(t["right_withheld"] for t in open_book)
    wrong = sum(t["wrong_withheld"] for t in open_book)
    pays = wrong > 0 and wrong >= 3 * right
    assert measured["withholding_pays"] is pays  # the file says what its own numbers say
    assert RetrievalSettings().require_support is pays, (
        f"withholding took {wrong} wrong and {right} right answers on the development set: "
        f"retrieval.require_support must default to {pays}")


def test_the_measurement_was_made_with_todays_prompt():
    from core.eval.run import prompt_hash

    assert json.loads(MEASURED.read_text(encoding="utf-8"))["prompt_hash"] == prompt_hash(), (
        "the prompt changed since bench/verdict.py --record: measure both sets again")
