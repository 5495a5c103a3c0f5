"""The stakeholders' votes on the Evaluate page, and their export (CSV, JSON) on both pages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.compare.results import ARM_LABELS
from core.votes.export import votes_csv, votes_json
from core.votes.store import VoteStore
from core.eval.votes import MIN_VOTES, VoteSummary

HELP = ("Win rate: the chance that the room prefers this set-up's answer to another set-up's, from a Bradley-Terry "
        "fit to the pairwise outcomes the blind votes imply (the best beats the rest; equally good answers, or "
        "all bad, tie; a tie counts as half a win each way). 95% intervals: bootstrap over the votes.")


def downloads(store: VoteStore, container=st) -> None:
    """Every vote cast in this lab, as CSV and as JSON (built when the page runs, not on click)."""
    cast = store.list()
    if not cast:
        container.caption("No votes yet: switch on blind voting and vote on a question.")
        return
    c1, c2 = container.columns(2)
    c1.download_button("Votes CSV", votes_csv(cast), "votes.csv", "text/csv", icon="⬇️", on_click="ignore",
                       help=f"All {len(cast)} votes, one row per vote.")
    c2.download_button("Votes JSON", votes_json(cast), "votes.json", "application/json", icon="⬇️", on_click="ignore",
                       help=f"All {len(cast)} votes, exactly as recorded.")


def _pct(x: float) -> str:
    return f"{x:.0%}"


def names(arms: list[str], none: str) -> str:
    return ", ".join(ARM_LABELS.get(a, a) for a in arms) or none


def votes_section(summary: VoteSummary, store: VoteStore) -> None:
    st.subheader("Stakeholder votes", help=HELP)
    if not summary.votes:
        st.info("No blind votes on this knowledge base yet: switch on **Blind voting** on the Compare page, and "
                "each vote is counted here.", icon="🗳️")
        downloads(store)
        return
    c1, c2, c3 = st.columns(3)
    c1.metric("Votes", summary.votes)
    c2.metric("Voters", summary.voters, help="A name given in several tabs counts once; a tab without a name counts once.")
    c3.metric("All bad", summary.all_bad, help="Votes that marked every answer bad.")
    st.dataframe(pd.DataFrame([{"arm": ARM_LABELS.get(s.arm, s.arm),
                                "win rate [95%]": f"{_pct(s.win_rate)} [{_pct(s.low)}, {_pct(s.high)}]",
                                "strength": round(s.strength, 2), "voted best": f"{s.best} of {s.shown}"}
                               for s in summary.standings]), hide_index=True, width="stretch")
    if not summary.enough:
        st.caption(f"Fewer than {MIN_VOTES} votes: read the ranking as a first impression.")
    if summary.setups > 1:
        st.caption(f"The votes were cast on {summary.setups} different set-ups (model, precision or adapter): the exports say which.")
    a = summary.agreement
    if not a.covered:
        st.caption("No voted question is in a saved evaluation of this knowledge base, so the votes and the "
                   "key-fact scores cannot be set side by side.")
    else:
        st.markdown(f"On the **{a.covered}** voted question{'s' * (a.covered != 1)} that an evaluation also scored, "
                    f"the room agreed with the key-fact scores **{a.agreed}** time{'s' * (a.agreed != 1)} "
                    f"({_pct(a.rate)}).")
        if a.disagreements:
            st.dataframe(pd.DataFrame([{"question": d.question, "voted best": names(d.voted_best, "none (all bad)"),
                                        "scored right": names(d.scored_right, "none"), "evaluation": d.run}
                                       for d in a.disagreements]), hide_index=True, width="stretch")
    st.caption(HELP)
    downloads(store)
