"""The one test-set parser (core.eval.items), the scorer's reading of an answer (metrics.judge),
format echoes, and the scorer's agreement with answers read by hand (core.eval.agreement)."""

import json

import pytest

from core.errors import LabError
from core.eval import metrics as m
from core.eval.agreement import Agreement, agreements, cohen_kappa
from core.eval.items import load_test_items, parse_test_set

ROWS = [
    {"question": "Refund window?", "answer": "14 days.", "key_facts": [["14 days", "two weeks"]], "source": "policy.md"},
    {"question": "Pets allowed?", "answer": "", "not_answerable": True},
    {"question": "Phone?", "answer": "1234-5678", "key_facts": ["1234-5678", "support"], "answerable": "yes"},
    {"question": "Cats?", "answer": "n/a", "answerable": False},
]


def test_the_command_line_and_the_page_read_the_same_file_the_same_way(tmp_path):
    path = tmp_path / "set.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n", encoding="utf-8")
    from_page, problems = parse_test_set(path.read_bytes(), path.name)
    from_cli = load_test_items(path)
    assert problems == [] and from_cli == from_page
    assert [i.answerable for i in from_cli] == [True, False, True, False]  # not_answerable and answerable both read
    assert from_cli[0].fact_phrasings() == [["14 days", "two weeks"]]


def test_csv_gives_the_same_items_as_jsonl_with_phrasings_after_a_bar(tmp_path):
    csv = (b"question,answer,key_facts,source,not_answerable\n"
           b"Refund window?,14 days.,14 days|two weeks,policy.md,\n"
           b"Pets allowed?,,,,true\n"
           b"Phone?,1234-5678,1234-5678;support,,no\n"
           b"Cats?,n/a,,,yes\n")
    jsonl = "\n".join(json.dumps(r) for r in ROWS).encode()
    assert parse_test_set(csv, "t.csv")[0] == parse_test_set(jsonl, "t.jsonl")[0]


def test_bad_rows_are_named_and_a_scripted_set_with_one_is_refused(tmp_path):
    data = b'{"question": "ok?", "answer": "yes"}\n{"question": "", "answer": "x"}\n{"question": "q", "key_facts": 3, "answer": "a"}\n'
    items, problems = parse_test_set(data, "t.jsonl")
    assert len(items) == 1 and [p.row for p in problems] == [2, 3]
    assert "no question" in problems[0].message and "key_facts must be" in problems[1].message
    path = tmp_path / "bad.jsonl"
    path.write_bytes(data)
    with pytest.raises(LabError, match="Row 2 was skipped.*1 more"):
        load_test_items(path)
    with pytest.raises(LabError, match="Cannot read"):
        load_test_items(tmp_path / "missing.jsonl")


def test_a_fact_counts_when_any_of_its_phrasings_is_stated():
    facts = [["14 days", "two weeks"], "refund"]
    assert m.key_fact_recall("A refund within two weeks.", facts) == 1.0
    assert m.key_fact_recall("A refund within a month.", facts) == 0.5
    assert m.judge("How long do I have?", True, facts, "You get a refund within fourteen days.") == "right"


def test_judge_reads_abstentions_claims_to_unanswerable_questions_and_self_contradictions():
    assert m.judge("How many days?", True, ["14 days"], "I don't know.") == "abstained"
    assert m.judge("What is the port?", False, [], "Port 5432.") == "wrong"
    assert m.judge("What is the port?", False, [], "The passages do not say.") == "abstained"
    assert m.judge("How many days do I have?", True, ["14 days"], "No. You have 14 days.") == "wrong"
    assert m.judge("How many days?", True, [], "14 days") is None  # no key facts: scored by F1 only


def test_a_yes_no_question_is_judged_on_the_answers_yes_or_no_as_a_person_reads_it():
    # Cases from the hand labels of bench/devset/labels.jsonl (round 2: base answers, dv010, dv020, dv064).
    q, ref = "Can XZ Utils open .7z archives?", "No; use 7-Zip on Windows or p7zip on POSIX-like systems."
    facts = [["No", "not support", "cannot"], ["7-Zip", "p7zip"]]
    assert m.judge(q, True, facts, "No, XZ Utils does not support .7z archives.", ref) == "right"  # 7-Zip not needed
    assert m.judge(q, True, facts, "Yes, XZ Utils can open .7z archives.", ref) == "wrong"
    assert m.judge(q, True, facts, "XZ Utils does not support .7z; use p7zip.", ref) == "right"  # no yes/no: key facts
    q, ref = "Do other packages have to declare explicit dependencies on a Protected package?", "Yes, explicitly."
    assert m.judge(q, True, [["explicit"]], "No, other packages do not have to declare explicit dependencies.", ref) == "wrong"
    assert m.judge(q, True, [["explicit"]], "The answer is yes.", ref) == "right"
    q, ref = "Are rbash's restrictions still active inside a shell script it runs?", "No, rbash turns off the restrictions."
    # "No" and then the question restated as a yes: said both ways in one breath
    assert m.judge(q, True, [["turns off"]], "No, rbash's restrictions are still active inside a shell script it runs.", ref) == "wrong"
    assert m.judge(q, True, [["turns off"]], "No, the restrictions are not active inside a shell script it runs.", ref) == "right"
    assert m.polarity("Nothing is said.") is None and m.polarity("Not really.") is None
    # a question that is not yes/no keeps the key facts, whatever the answer opens with
    assert m.judge("How long does it take?", True, ["ten days"], "No. It takes ten days.", "Ten days.") == "wrong"


def test_the_answer_is_not_provided_is_an_abstention():
    assert m.judge("kubectl는 어떤 플래그를 쓰나요?", True, ["--namespace"], "The answer is not provided.") == "abstained"
    assert m.judge("What is it?", True, ["x"], "The answer is not given in the passages.") == "abstained"
    assert m.judge("What is the port?", True, ["5432"], "The answer is 5432.") == "right"


def test_format_echoes_are_the_prompt_copied_back_not_short_answers():
    assert m.is_format_echo("The answer is:")
    assert m.is_format_echo("The answer is: [1] xz-faq.txt [2] man-db-faq.txt", ["xz-faq.txt"])
    assert m.is_format_echo("[1] policy.md", ["policy.md"])
    assert m.is_format_echo("")
    assert not m.is_format_echo("The answer is: 14 days [1].")
    assert not m.is_format_echo("I don't know.")


def test_cohen_kappa_known_values():
    assert cohen_kappa(["right", "wrong"] * 5, ["right", "wrong"] * 5) == 1.0
    # 80% observed; chance 0.5*0.5 + 0.5*0.5 = 0.5 -> kappa 0.6
    a = ["right"] * 5 + ["wrong"] * 5
    b = ["right"] * 4 + ["wrong"] + ["wrong"] * 4 + ["right"]
    assert cohen_kappa(a, b) == pytest.approx(0.6)
    assert cohen_kappa(["right"] * 3, ["right"] * 3) is None


def test_agreement_counts_each_round_and_lists_the_disagreements(tmp_path):
    (tmp_path / "questions.jsonl").write_text("\n".join(json.dumps(r) for r in [
        {"id": "q1", "question": "How many days?", "answer": "14 days", "key_facts": [["14 days", "two weeks"]]},
        {"id": "q2", "question": "Pets?", "answer": "", "not_answerable": True},
    ]), encoding="utf-8")
    labels = [
        {"id": "q1", "arm": "rag", "round": 1, "answer": "Two weeks.", "label": "right", "reason": "paraphrase"},
        {"id": "q1", "arm": "base", "round": 1, "answer": "30 days.", "label": "wrong", "reason": "wrong number"},
        {"id": "q2", "arm": "rag", "round": 1, "answer": "Yes, pets are fine.", "label": "wrong", "reason": "made up"},
        {"id": "q1", "arm": "rag", "round": 2, "answer": "Half a month.", "label": "right", "reason": "paraphrase"},
    ]
    (tmp_path / "labels.jsonl").write_text("\n".join(json.dumps(r) for r in labels), encoding="utf-8")
    first, second = agreements(tmp_path)
    assert (first.round, first.answers, first.agreed, first.disagreements) == (1, 3, 3, [])
    assert (second.round, second.answers, second.agreed) == (2, 1, 0)
    assert second.disagreements[0].label == "right" and second.disagreements[0].scored == "wrong"
    assert "on 100% of 3 answers" in first.sentence() and "round 1" in first.sentence()
    assert agreements(tmp_path / "nowhere") == []


def test_the_shipped_labels_match_their_questions_and_the_page_shows_the_newest_round():
    from core.eval.agreement import latest_agreement, scorer_check

    found = agreements()  # raises on a label whose question or label is unknown
    assert [a.round for a in found] == sorted({a.round for a in found}) and len(found) >= 2
    assert all(isinstance(a, Agreement) and a.answers > 0 for a in found)
    newest = latest_agreement()
    assert newest.round == found[-1].round and f"labelling round {newest.round}" in scorer_check()


@pytest.mark.parametrize("answer, facts, stated", [
    # from the development set's hand labels (round 1), where the scorer read them wrongly
    ("No, GitHub does not waive DMCA claims against researchers.", [["waive", "waives", "Yes"]], False),  # dv061
    ("No, the restrictions are still active inside a shell script it runs.",
     [["turns off", "not restricted", "no restrictions"]], False),  # dv020: "No, the" is not "no restrictions"
    ("Systemd allocates dynamic service users to the `UID` range `61184…65519`.", ["61184", "65519"], True),  # dv026
    # negation and paraphrase: a negation the phrasing carries itself is stated by a longer one
    ("The licence doesn't grant trademark rights.", [["not grant"]], True),
    ("It does not grant any patent licence.", [["not grant"]], True),
    ("Yes, GitHub waives any potential DMCA claim.", [["waive", "waives", "Yes"]], True),
    # numbers and units
    ("Refunds within fourteen days.", ["14 days"], True),
    ("Refunds within 140 days.", ["14 days"], False),
    ("gzip 1.6 added it.", ["1.6"], True),
    ("It costs 1,000 won.", ["1,000"], True),
    # Korean writes particles and endings onto the word
    ("2014년에 오픈소스로 공개했다.", ["2014"], True),
    ("쿠버네티스는 애플리케이션을 빌드하지 않는다.", [["빌드하지 않", "아니요"]], True),
    ("kube-public입니다.", ["kube-public"], True),
    ("20145년", ["2014"], False),
])
def test_key_facts_hold_under_negation_paraphrase_numbers_and_korean(answer, facts, stated):
    assert (m.key_fact_recall(answer, facts) == 1.0) is stated
