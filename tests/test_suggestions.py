"""The compare page's suggested questions fit the active knowledge base."""

from core.compare.suggestions import demo_suggestions, suggestions
from core.demo import DEMO_KB

LICENSE = ("# Widget license\n\nThis license covers the Widget library.\n\n"
           "## Warranty\n\nThe software is provided as is, without warranty of any kind.\n\n"
           "Contact: legal@widget.example\n").encode()


def test_a_users_knowledge_base_gets_questions_from_its_own_documents(service, kb):
    assert suggestions(service, kb, DEMO_KB) == []  # an empty knowledge base: no suggestion rather than the demo's
    service.ingest_files(kb, [("license.md", LICENSE)])
    got = suggestions(service, kb, DEMO_KB)
    assert got and all(s.shows == "from license.md" for s in got)
    assert "Widget" in got[0].question and got[0].question.endswith("?") and "___" not in got[0].question
    demo_questions = {s.question for s in demo_suggestions()}
    assert not demo_questions & {s.question for s in got}


def test_the_demo_suggestions_each_say_what_they_show_and_what_the_arms_do():
    demo = demo_suggestions()
    assert 3 <= len(demo) <= 5
    for s in demo:
        assert s.question.strip() and s.shows.strip() and s.expect
        assert set(s.expect) <= {"base", "rag", "finetuned", "hybrid"}
        assert all(set(rule) <= {"states", "lacks", "abstains"} and rule for rule in s.expect.values())


def test_a_suggestion_checks_answers_against_what_it_says():
    from core.compare.suggestions import Suggestion

    s = Suggestion("Phone?", "only the documents know", {"base": {"lacks": "1234-5678"}, "rag": {"states": "1234-5678"}})
    assert s.holds_for("rag", "Call 1234-5678.") and not s.holds_for("rag", "Call 1-800-777.")
    assert s.holds_for("base", "Call 1-800-777.") and not s.holds_for("base", "It is 1234-5678.")
    unanswerable = Suggestion("CEO?", "not in the documents", {"rag": {"abstains": True}})
    assert unanswerable.holds_for("rag", "I don't know.") and not unanswerable.holds_for("rag", "Jane Park.")
