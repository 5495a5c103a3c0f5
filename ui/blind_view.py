"""Blind voting on the compare page: a question's answers under letters until this viewer votes,
then the reveal of which arm gave which. Each viewer's tab keeps its own questions, letters and
name in its session state; the votes go to the one store every session shares."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import streamlit as st

from core.compare.results import ARM_LABELS, Comparison
from core.errors import LabError
from core.votes.blind import answered, blind_order, blind_text, keep_answered
from core.votes.record import MAX_VOTER_CHARS, Vote, make_vote
from core.models.prompts import strip_citations
from ui import compare_view
from ui.resources import votes
from ui.widgets import md_escape, report_error

BLIND_KEY = "compare_blind"  # the switch
RECORDS_KEY = "compare_blind_records"  # comparison id -> BlindRecord, for the questions asked blind
VOTER_KEY = "compare_voter"  # the name this viewer gave, offered again on the next vote
SESSION_KEY = "compare_session_id"  # this viewer's tab, recorded with each vote


@dataclass
class BlindRecord:
    letters: dict[str, str]  # letter -> arm
    vote: Vote | None = None
    revealed: bool = False  # shown with names without a vote (blind mode was switched off)


def switch() -> bool:
    return st.toggle("Blind voting", key=BLIND_KEY,
                     help="Each question's answers appear as A, B, C, D in a random order, without names, sources "
                          "or numbers. Vote for the best (several if equally good, or all bad) and the page shows "
                          "which set-up gave which. Votes are kept for the Evaluate page.")


def notice() -> None:
    """Said above the questions instead of the set-up, which would name the arms."""
    st.info("**Blind voting.** Each answer appears under a letter, in a new random order for every question, "
            "with no name, sources or numbers. Vote for the best answer, several if they are equally good, or "
            "mark them all bad: then the page shows which set-up gave which.", icon="🙈")


def session_id() -> str:
    return st.session_state.setdefault(SESSION_KEY, uuid.uuid4().hex[:12])


def _records() -> dict[str, BlindRecord]:
    return st.session_state.setdefault(RECORDS_KEY, {})


def draw_order(arms: list[str]) -> dict[str, str]:
    """A fresh random order for the next question: letter -> arm."""
    return blind_order(arms)


def remember(c: Comparison, order: dict[str, str]) -> None:
    """Keep the question's letters (the arms that answered, in the drawn order) until it is voted on."""
    _records()[c.id] = BlindRecord(keep_answered(order, answered(c.arms)))


def unvoted(history: list[Comparison]) -> bool:
    """Whether a question asked blind waits for this viewer's vote (the conversation export would name the arms)."""
    records = _records()
    return any(c.id in records and records[c.id].vote is None and not records[c.id].revealed for c in history)


def answer_boxes(order: dict[str, str]) -> dict:
    """The empty panes, one per letter, that the answers stream into while the model writes."""
    boxes = {}
    for col, (letter, arm) in zip(st.columns(len(order)), order.items()):
        with col:
            st.markdown(f"**Answer {letter}**")
            boxes[arm] = st.empty()
            boxes[arm].caption("waiting for the model…")
    return boxes


def partial_html(text: str) -> str:
    return compare_view.answer_html(strip_citations(text), cursor=True)


def show(c: Comparison, arms: list[str], finetune_page: str, records: dict, demo_wait, blind: bool) -> None:
    """One past question: blind with the vote form, revealed with the vote, or as usual."""
    record = _records().get(c.id)
    if record is None:
        compare_view.comparison(c, arms, finetune_page, records, demo_wait)
    elif record.vote is not None:
        _revealed(c, record, finetune_page, records)
    elif blind and not record.revealed:
        _blind(c, record)
    else:
        record.revealed = True  # seen with the names: no longer a blind vote
        compare_view.comparison(c, arms, finetune_page, records, demo_wait)


def _blind(c: Comparison, record: BlindRecord) -> None:
    with st.chat_message("user"):
        st.text(c.question)
    letters = record.letters
    if len(letters) < 2:
        st.info("Fewer than two answers came back, so there is nothing to choose between: pick more arms in "
                "the sidebar and ask again.", icon="🙈")
        return
    for col, (letter, arm) in zip(st.columns(len(letters)), letters.items()):
        with col:
            st.markdown(f"**Answer {letter}**")
            st.html(compare_view.answer_html(blind_text(c.arms[arm])))
    with st.form(f"vote_{c.id}", enter_to_submit=False):  # Enter in the name box must not cast a half-made vote
        picked = st.pills("Which answer is best? Pick several if they are equally good.", list(letters),
                          selection_mode="multi", key=f"vote_best_{c.id}")
        all_bad = st.checkbox("All bad: none of these answers is good enough", key=f"vote_bad_{c.id}")
        voter = st.text_input("Your name (optional)", value=st.session_state.get(VOTER_KEY, ""),
                              max_chars=MAX_VOTER_CHARS, key=f"vote_name_{c.id}")
        if st.form_submit_button("Vote and reveal", type="primary", icon="🗳️"):
            try:
                vote = votes().add(make_vote(c, letters, picked or [], all_bad, voter, session_id()))
            except LabError as exc:
                report_error(exc)
                return
            st.session_state[VOTER_KEY] = vote.voter
            record.vote = vote
            st.rerun()


def _said(vote: Vote, letters: dict[str, str]) -> str:
    arm_letter = {arm: letter for letter, arm in letters.items()}
    if vote.all_bad:
        return "all answers bad"
    picked = " and ".join(f"{arm_letter[a]} ({ARM_LABELS[a]})" for a in vote.best)
    return f"{picked} {'equally good' if len(vote.best) > 1 else 'best'}"


def _revealed(c: Comparison, record: BlindRecord, finetune_page: str, records: dict) -> None:
    with st.chat_message("user"):
        st.text(c.question)
    vote = record.vote
    who = f"{md_escape(vote.voter)}’s" if vote.voter else "Your"
    st.caption(f"🗳️ {who} vote: {_said(vote, record.letters)}. The answers, with who gave them:")
    for col, (letter, arm) in zip(st.columns(len(record.letters)), record.letters.items()):
        with col:
            mark = " · 🏆 voted best" if arm in vote.best else ""
            compare_view.pane(c.arms[arm], finetune_page, records.get(arm), c.fairness.kb_version,
                              heading=f"**{letter} · {compare_view.ARM_ICONS[arm]} {ARM_LABELS[arm]}**{mark}")
