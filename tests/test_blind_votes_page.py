"""Blind voting on the compare page and the votes on the Evaluate page, through the real app
(AppTest, real knowledge base and vote store). The language model is replaced by a scripted engine
whose answers name their sources and prompts as the real ones do: these tests read the page, not
the model, and loading the model for them would only make them slow."""

import re

import pytest
from google.protobuf import text_format

from core.compare.arms import ARM_TABLE
from core.compare.results import ArmAnswer, Comparison, Fairness, Source
from core.models.generation import Decoding
from core.votes.store import VoteStore
from tests.apptest import own_workspace, session

QUESTION = "How many paid sick days do employees get?"
ANSWERS = {"base": "Employees get five days off.", "rag": "Employees get 10 paid sick days [1].",
           "finetuned": "Ten days a year, paid.", "hybrid": "10 paid sick days per year [1]."}
DOC = "hr_handbook.docx"


class ScriptedEngine:
    """The compare engine's surface, with fixed answers: RAG and hybrid read a passage of ``DOC``."""

    def decoding(self, **overrides) -> Decoding:
        return Decoding(**overrides)

    def fairness(self, kb, adapter_id, decoding, top_k, require_support=None) -> Fairness:
        from ui.resources import knowledge

        return Fairness(model="Scripted", model_fingerprint="model-fp-1", kb=kb, kb_version=knowledge().version(kb),
                        decoding=decoding.model_dump(exclude={"min_new_tokens"}), top_k=top_k, min_score=0.2,
                        require_support=bool(require_support), adapter="handbook lora", adapter_id="ad1",
                        adapter_fingerprint="adapter-fp-1")

    def answer(self, question, kb, arms, adapter_id=None, decoding=None, top_k=3, on_update=None,
               gold_source=None, require_support=None) -> Comparison:
        c = Comparison(question=question, fairness=self.fairness(kb, adapter_id, decoding or Decoding(), top_k,
                                                                 require_support))
        passage = Source(rank=1, doc_name=DOC, chunk_index=0, score=0.5, relevance=0.7, cited=True,
                         text="Employees get 10 paid sick days.", sentences=[("Employees get 10 paid sick days.", True)])
        for arm in arms:
            reads = arm in ("rag", "hybrid")
            c.arms[arm] = ArmAnswer(arm=arm, text=ANSWERS[arm], prompt=f"[1] {DOC}: ..." if reads else "Question: ...",
                                    prompt_tokens=400 if reads else 40, completion_tokens=9, wall_s=0.5, ttft_s=0.1,
                                    sources=[passage] if reads else [], citations=[1] if reads else [])
        if on_update:
            on_update({arm: a.text for arm, a in c.arms.items()})
        return c


@pytest.fixture(scope="module")
def app_env(tmp_path_factory):
    with own_workspace(tmp_path_factory.mktemp("blind-votes-data")) as data:
        yield data


@pytest.fixture
def scripted(monkeypatch):
    import ui.resources

    monkeypatch.setattr(ui.resources, "compare_engine", ScriptedEngine)


def rendered(block) -> str:
    """Every string the page sent for ``block`` and its children: labels, bodies, options, help texts."""
    parts = []

    def walk(node) -> None:
        if getattr(node, "proto", None) is not None:
            parts.append(text_format.MessageToString(node.proto, as_utf8=True))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(block)
    return "\n".join(parts)


def answers(at) -> list[str]:
    return [re.sub(r"<[^>]+>", "", h.body).strip() for h in at.main.get("html") if "min-height:2.5rem" in h.body]


def ask_blind(at, question: str = QUESTION) -> dict[str, str]:
    """Ask in blind mode; the letter each arm's answer is shown under."""
    at.toggle(key="compare_blind").set_value(True).run()
    at.chat_input[0].set_value(question).run()
    assert not at.exception, at.exception
    shown = answers(at)
    by_text = {text.replace(" [1]", ""): arm for arm, text in ANSWERS.items()}
    return {by_text[text]: letter for letter, text in zip("ABCD", shown)}


def vote_button(at):
    return next(b for b in at.main.button if b.label == "Vote and reveal")


def test_blind_answers_name_no_arm_until_the_vote_then_the_reveal_names_them_all(app_env, scripted):
    at = session("pages/compare.py")
    letters = ask_blind(at)
    assert sorted(letters) == sorted(ANSWERS)  # all four answers, each under one letter
    page = rendered(at.main)
    for letter in "ABCD":
        assert f"Answer {letter}" in page
    for arm in ARM_TABLE:
        assert not re.search(rf"\b{re.escape(arm.label)}\b", page), arm.label
        assert arm.icon not in page, arm.icon
    for giveaway in (DOC, "[1]", "Supported by", "prompt", "first token", "📊"):
        assert giveaway not in page, giveaway
    sidebar = [b.label for b in at.sidebar.get("download_button")]
    assert "JSON" not in sidebar and "Markdown" not in sidebar  # the conversation export would name the arms

    at.main.get("button_group")[0].set_value([letters["rag"], letters["hybrid"]])
    at.main.text_input[0].set_value("Dana")
    vote_button(at).click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    page = rendered(at.main)
    assert all(arm.label in page for arm in ARM_TABLE if arm.name in ANSWERS)
    assert DOC in page and "Supported by" in page  # the normal panes, sources and support lines included
    said = " ".join(c.value for c in at.caption)
    assert "Dana’s vote:" in said and "equally good" in said
    assert page.count("🏆 voted best") == 2
    assert "JSON" in [b.label for b in at.sidebar.get("download_button")]
    assert {"Votes CSV", "Votes JSON"} <= {b.label for b in at.sidebar.get("download_button")}

    [vote] = VoteStore(app_env / "votes.db").list()
    assert sorted(vote.best) == ["hybrid", "rag"] and not vote.all_bad and vote.voter == "Dana"
    assert vote.letters == {letter: arm for arm, letter in letters.items()} and vote.question == QUESTION
    assert (vote.model_fingerprint, vote.adapter_fingerprint, vote.adapter) == ("model-fp-1", "adapter-fp-1", "handbook lora")
    assert vote.kb_version and vote.decoding["max_new_tokens"] and vote.answers == ANSWERS

    at.chat_input[0].set_value("Can I carry sick days over?").run()  # the next question: blind again, name remembered
    assert at.main.text_input[0].value == "Dana" and vote_button(at) is not None


def test_a_vote_without_a_choice_gets_a_sentence_and_is_not_recorded(app_env, scripted):
    before = VoteStore(app_env / "votes.db").count()
    at = session("pages/compare.py")
    ask_blind(at)
    vote_button(at).click().run()
    assert not at.exception and any("Pick the best answer" in e.value for e in at.error)
    at.checkbox[0].check()
    vote_button(at).click().run()
    assert not at.exception and not at.error
    assert VoteStore(app_env / "votes.db").count() == before + 1
    assert VoteStore(app_env / "votes.db").list()[-1].all_bad


def test_switching_blind_voting_off_shows_the_names_and_the_question_is_no_longer_voted_on(app_env, scripted):
    before = VoteStore(app_env / "votes.db").count()
    at = session("pages/compare.py")
    ask_blind(at)
    at.toggle(key="compare_blind").set_value(False).run()
    page = rendered(at.main)
    assert not at.exception and "Vote and reveal" not in page
    assert all(arm.label in page for arm in ARM_TABLE if arm.name in ANSWERS) and "RAG reads" in page  # the set-up strip
    at.toggle(key="compare_blind").set_value(True).run()
    assert "Vote and reveal" not in rendered(at.main)  # seen with the names: a vote on it would not be blind
    assert VoteStore(app_env / "votes.db").count() == before


def test_viewers_vote_from_their_own_sessions(app_env, scripted):
    alice, bob = session("pages/compare.py"), session("pages/compare.py")
    alice_letters, bob_letters = ask_blind(alice), ask_blind(bob)
    alice.main.get("button_group")[0].set_value([alice_letters["base"]])
    vote_button(alice).click().run()
    bob.run()
    assert vote_button(bob) is not None and "🏆" not in rendered(bob.main)  # bob's question is still blind
    bob.main.get("button_group")[0].set_value([bob_letters["finetuned"]])
    vote_button(bob).click().run()
    votes = VoteStore(app_env / "votes.db").list()[-2:]
    assert [v.best for v in votes] == [["base"], ["finetuned"]]
    assert votes[0].session_id != votes[1].session_id


def test_the_evaluate_page_sets_the_votes_beside_the_key_fact_scores(app_env):
    from core.eval.runs import RunStore
    from core.votes.record import Vote
    from tests.test_eval_report import RETURNS, make_run

    RunStore(app_env / "evals").save(make_run())  # knowledge base "handbook": on the returns question only RAG is right
    store = VoteStore(app_env / "votes.db")
    shown = ("base", "rag", "hybrid")
    for best in (["base"], ["rag"], ["rag"]):
        store.add(Vote(question=RETURNS.question, kb="handbook", kb_version="3", model_fingerprint="m",
                       answers=dict.fromkeys(shown, "…"), letters=dict(zip("ABC", shown)), best=best, session_id="s"))
    at = session("pages/evaluate.py")
    assert not at.exception, at.exception
    assert any(h.value == "Stakeholder votes" for h in at.subheader)
    counts = {m.label: m.value for m in at.metric}
    assert (counts["Votes"], counts["Voters"], counts["All bad"]) == ("3", "1", "0")
    standings = next(d.value for d in at.dataframe if "win rate [95%]" in d.value.columns)
    assert list(standings["arm"]) == ["RAG", "Base", "Hybrid"]
    disagreements = next(d.value for d in at.dataframe if "scored right" in d.value.columns)
    assert list(disagreements["voted best"]) == ["Base"] and list(disagreements["scored right"]) == ["RAG"]
    for need in [r for r in at.radio if (r.key or "").startswith("need_")]:
        need.set_value("no")
    at.run()
    assert any("Only 3 stakeholder votes so far" in w.value for w in at.warning)
