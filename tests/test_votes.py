"""Blind letters, casting a vote, the vote store and the CSV / JSON exports."""

import threading

import pytest

from core.compare.arms import ARM_TABLE
from core.compare.results import ARMS, ArmAnswer, Comparison, Fairness
from core.votes.blind import LETTERS, answered, blind_order, blind_text, keep_answered
from core.votes.export import read_votes_csv, read_votes_json, votes_csv, votes_json
from core.votes.record import Vote, VoteError, make_vote
from core.votes.store import VoteStore


def comparison(question: str = "How many paid sick days do employees get?") -> Comparison:
    fairness = Fairness(model="SmolLM2-135M", model_fingerprint="m-1a2b", kb="Lumora demo", kb_version="v7",
                        decoding={"max_new_tokens": 64, "temperature": 0.0, "seed": 0}, top_k=3, min_score=0.2,
                        require_support=True, adapter="handbook lora", adapter_id="ad1", adapter_fingerprint="ad-77",
                        dtype="int8")
    c = Comparison(question=question, fairness=fairness)
    for arm in ARMS:
        c.arms[arm] = ArmAnswer(arm=arm, text=f"Ten days, says {arm} [1].")
    return c


def test_blind_order_is_fixed_by_a_seed_and_differs_across_seeds():
    first = blind_order(ARMS, 7)
    assert first == blind_order(ARMS, 7)
    assert list(first) == list(LETTERS[:4]) and sorted(first.values()) == sorted(ARMS)
    orders = {tuple(blind_order(ARMS, seed).values()) for seed in range(20)}
    assert len(orders) > 5  # 24 possible orders: the seed, not the arms' order, decides


def test_blind_order_in_use_is_drawn_anew_for_every_question():
    orders = {tuple(blind_order(ARMS).values()) for _ in range(20)}
    assert len(orders) > 5


def test_an_arm_that_could_not_answer_leaves_no_gap_in_the_letters():
    c = comparison()
    c.arms["finetuned"] = ArmAnswer(arm="finetuned", unavailable="No adapter selected: train one on the Fine-tuning page.")
    letters = {"A": "hybrid", "B": "finetuned", "C": "base", "D": "rag"}
    assert keep_answered(letters, answered(c.arms)) == {"A": "hybrid", "B": "base", "C": "rag"}


def test_blind_text_takes_the_passage_markers_out():
    assert blind_text(ArmAnswer(arm="rag", text="Within 14 days [1]. Call [2][3] us.")) == "Within 14 days. Call us."


def test_a_vote_names_arms_not_letters_and_keeps_the_set_up():
    c = comparison()
    letters = {"A": "hybrid", "B": "base", "C": "rag", "D": "finetuned"}
    v = make_vote(c, letters, ["C", "A"], all_bad=False, voter="  Dana   Kim ", session_id="s1")
    assert v.best == ["hybrid", "rag"] and not v.all_bad and v.voter == "Dana Kim"
    assert v.shown == ["hybrid", "base", "rag", "finetuned"]
    assert v.answers["rag"] == "Ten days, says rag [1]."
    assert (v.kb, v.kb_version, v.model_fingerprint, v.adapter_fingerprint) == ("Lumora demo", "v7", "m-1a2b", "ad-77")
    assert v.dtype == "int8"  # the precision the answers were made at
    assert v.decoding["max_new_tokens"] == 64 and v.comparison_id == c.id and v.require_support


@pytest.mark.parametrize("picked, all_bad, says", [
    ([], False, "Pick the best answer"),
    (["A"], True, "not both"),
    (["E"], False, "no answer E"),
])
def test_a_vote_that_says_nothing_or_contradicts_itself_is_refused_in_a_sentence(picked, all_bad, says):
    with pytest.raises(VoteError, match=says):
        make_vote(comparison(), {"A": "rag", "B": "base"}, picked, all_bad)


def test_one_answer_is_not_a_choice():
    with pytest.raises(VoteError, match="at least two answers"):
        make_vote(comparison(), {"A": "rag"}, ["A"], False)


def sample_votes() -> list[Vote]:
    c = comparison('Sick days, "paid", or unpaid?\nSay, in full; 병가')
    c.arms["base"].text = 'He said "no", then: =1+1;\nnew line, 병가 10일'
    picked = make_vote(c, {"A": "rag", "B": "base", "C": "hybrid"}, ["A", "C"], False, "Dana", "s1")
    bad = make_vote(comparison(), {"A": "base", "B": "finetuned"}, [], True, "", "s2")
    bad.adapter = bad.adapter_id = bad.adapter_fingerprint = None  # voted without an adapter
    bad.top_k = None
    return [picked, bad]


def test_votes_are_saved_with_their_fingerprints_and_read_back(settings):
    store = VoteStore(settings.votes_path)
    votes = sample_votes()
    for v in votes:
        store.add(v)
    other = comparison()
    other.fairness.kb = "Contracts"
    store.add(make_vote(other, {"A": "rag", "B": "base"}, ["B"], False, session_id="s3"))
    reopened = VoteStore(settings.data_dir / "votes.db")  # a new process reads what the app wrote
    assert reopened.list(kb="Lumora demo") == votes
    assert reopened.count() == 3 and reopened.count(kb="Contracts") == 1
    assert reopened.list()[-1].best == ["base"]


def test_viewers_in_many_sessions_vote_at_once(settings):
    store = VoteStore(settings.votes_path)

    def cast(session: str) -> None:
        for _ in range(20):
            store.add(make_vote(comparison(), {"A": "rag", "B": "base"}, ["A"], False, session_id=session))

    threads = [threading.Thread(target=cast, args=(f"s{i}",)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.count() == 100 and len({v.session_id for v in store.list()}) == 5


def test_json_export_reads_back_exactly():
    votes = sample_votes()
    assert read_votes_json(votes_json(votes)) == votes


def test_csv_export_has_a_row_per_vote_with_arm_columns_and_reads_back_exactly():
    votes = sample_votes()
    data = votes_csv(votes)
    assert data.startswith("\ufeff".encode("utf-8"))  # spreadsheets read the UTF-8 right
    header = data.decode("utf-8-sig").splitlines()[0].split(",")
    assert {f"letter:{a.name}" for a in ARM_TABLE} <= set(header) and "best" in header
    assert not {a.label for a in ARM_TABLE} & set(header)  # stable names, never labels
    assert read_votes_csv(data) == votes


def test_csv_cells_that_a_spreadsheet_would_run_as_formulas_are_made_inert_and_read_back():
    first = sample_votes()[0]
    vote = first.model_copy(update={"question": "=HYPERLINK(\"http://evil.example\")", "voter": "@boss",
                                    "answers": {**first.answers, "rag": "-1+2"}})
    data = votes_csv([vote])
    text = data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "'@boss" in text and "'-1+2" in text
    assert read_votes_csv(data) == [vote]


def test_votes_from_before_the_precision_was_recorded_read_as_fp32_from_the_database_and_from_a_csv(settings):
    """A votes.db and a CSV export written before votes recorded the precision: both open, their votes read as
    fp32 (the only precision then), and new votes keep theirs."""
    import csv
    import io
    import json
    import sqlite3

    from core.votes.store import JSON_FIELDS, SCHEMA

    old_schema = SCHEMA.replace("dtype TEXT NOT NULL DEFAULT 'fp32', ", "")
    assert old_schema != SCHEMA
    old, new = sample_votes()
    settings.votes_path.parent.mkdir(parents=True, exist_ok=True)
    fields = [f for f in Vote.model_fields if f != "dtype"]
    row = old.model_dump()
    with sqlite3.connect(settings.votes_path) as conn:
        conn.executescript(old_schema)
        conn.execute(f"INSERT INTO votes ({', '.join(fields)}) VALUES ({', '.join('?' * len(fields))})",
                     [json.dumps(row[f]) if f in JSON_FIELDS else row[f] for f in fields])
    store = VoteStore(settings.votes_path)
    store.add(new)
    assert [v.dtype for v in store.list()] == ["fp32", "int8"]

    rows = list(csv.reader(io.StringIO(votes_csv([old]).decode("utf-8-sig"))))
    at = rows[0].index("dtype")
    out = io.StringIO()
    csv.writer(out).writerows([[c for i, c in enumerate(r) if i != at] for r in rows])  # the columns of an older export
    assert read_votes_csv(out.getvalue().encode("utf-8")) == [old.model_copy(update={"dtype": "fp32"})]
