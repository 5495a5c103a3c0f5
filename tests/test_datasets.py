"""Training datasets: parsing uploads row by row, the rule-based generator, document-whole
splits without leakage, and the on-disk store."""

import json
from functools import cache

import pytest

from core.demo import CORPUS_DIR, DATASETS_DIR
from core.errors import LabError
from core.finetune import dataset_gen
from core.finetune import datasets as ds
from core.finetune.datasets import IDK, DatasetError, DatasetStore, QAPair
from core.finetune.question_check import well_formed
from core.knowledge.ingestion.readers import extract_text


def jsonl(*rows) -> bytes:
    return "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows).encode()


@cache
def demo_docs() -> tuple[tuple[str, str], ...]:
    """The demo corpus as the knowledge base stores it (extracted text)."""
    return tuple((p.name, extract_text(p.name, p.read_bytes())[1]) for p in sorted(CORPUS_DIR.iterdir()))


def demo_pairs() -> list[QAPair]:
    return ds.parse_jsonl((DATASETS_DIR / "train.jsonl").read_bytes()).pairs


# --- parsing -----------------------------------------------------------------------------------
def test_jsonl_question_answer_rows_keep_their_source():
    result = ds.parse_jsonl(jsonl({"question": " Q1? ", "answer": "A1.", "source": "policy.md"},
                                  {"question": "Q2?", "answer": "A2."}))
    assert [(p.question, p.answer, p.source) for p in result.pairs] == [
        ("Q1?", "A1.", "policy.md"), ("Q2?", "A2.", None)]
    assert result.problems == []


def test_jsonl_instruction_rows_append_the_input_after_a_blank_line():
    result = ds.parse_jsonl(jsonl({"instruction": "Summarise.", "input": "Returns take 14 days.", "output": "14 days."},
                                  {"instruction": "Say hi.", "input": "", "output": "Hi."}))
    assert [p.question for p in result.pairs] == ["Summarise.\n\nReturns take 14 days.", "Say hi."]
    assert result.pairs[0].answer == "14 days."


def test_jsonl_chat_rows_take_the_last_user_turn_before_the_last_assistant_turn():
    messages = [{"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi."},
                {"role": "user", "content": "How long is the refund window?"},
                {"role": "assistant", "content": "14 days."},
                {"role": "user", "content": "Thanks"}]
    [pair] = ds.parse_jsonl(jsonl({"messages": messages, "source": "chat.md"})).pairs
    assert (pair.question, pair.answer, pair.source) == ("How long is the refund window?", "14 days.", "chat.md")


def test_demo_training_set_parses_cleanly():
    result = ds.parse_jsonl((DATASETS_DIR / "train.jsonl").read_bytes())
    assert len(result.pairs) == 105 and result.problems == []
    assert all(p.source for p in result.pairs[:10])


def test_each_bad_jsonl_row_is_skipped_and_reported_with_its_line_number():
    data = jsonl(
        {"question": "Good?", "answer": "Yes."},             # 1
        "{not json",                                          # 2
        {"prompt": "x", "completion": "y"},                   # 3 unknown shape
        {"question": "  ", "answer": "Yes."},                 # 4 empty question
        {"question": "Empty answer?", "answer": ""},          # 5
        "",                                                   # 6 blank: ignored
        {"question": "GOOD? ", "answer": "yes."},             # 7 duplicate of 1 once normalised
        {"question": "Long?", "answer": "x" * 5000},          # 8 too long
        {"messages": [{"role": "user", "content": "hi"}]},    # 9 no assistant turn
        {"question": "Also good?", "answer": "Yes."},         # 10
    )
    result = ds.parse_jsonl(data)
    assert [p.question for p in result.pairs] == ["Good?", "Also good?"]
    problems = {p.row: p.message for p in result.problems}
    assert sorted(problems) == [2, 3, 4, 5, 7, 8, 9]
    assert "JSON" in problems[2]
    assert "shape" in problems[3]
    assert "question is empty" in problems[4]
    assert "answer is empty" in problems[5]
    assert problems[7] == "Duplicate of row 1."
    assert "5005" in problems[8] and "4000" in problems[8]
    assert "assistant" in problems[9]


def test_the_length_limit_is_configurable():
    data = jsonl({"question": "Q?", "answer": "x" * 50}, {"question": "Q2?", "answer": "ok"})
    result = ds.parse_jsonl(data, max_chars=20)
    assert [p.row for p in result.problems] == [1] and len(result.pairs) == 1


def test_csv_with_a_column_mapping_keeps_source_and_decodes_legacy_encodings():
    data = "Frage;Antwort;Dokument\nWie lange gilt das Rückgaberecht?;14 Tage.;policy.md\n\nKosten?;Gratis.;\n"
    result = ds.parse_csv(data.encode("cp1252"), "Frage", "Antwort", "Dokument")
    assert ds.csv_columns(data.encode("cp1252")) == ["Frage", "Antwort", "Dokument"]
    assert [(p.question, p.answer, p.source) for p in result.pairs] == [
        ("Wie lange gilt das Rückgaberecht?", "14 Tage.", "policy.md"), ("Kosten?", "Gratis.", None)]


def test_csv_bad_rows_are_reported_by_spreadsheet_row_number():
    data = b'q,a\nFirst?,One.\n,No question.\nNo answer?,\n"first?","one."\nQuoted, with comma?,"Yes, it works."\n'
    result = ds.parse_csv(data, "q", "a")
    assert {p.row: p.message for p in result.problems} == {
        3: "The question is empty.", 4: "The answer is empty.", 5: "Duplicate of row 2."}
    assert len(result.pairs) == 2


def test_csv_mapping_to_a_missing_column_is_a_plain_error():
    with pytest.raises(DatasetError, match="no column named 'answer'"):
        ds.parse_csv(b"question,reply\nQ?,A.\n", "question", "answer")


@pytest.mark.parametrize("data, fragment", [
    ("Kettle 14 days".encode("utf-16"), "not UTF-8"),
    (b"", "empty"),
    (b"\n  \n", "empty"),
    (b'{"question": "q", "answer": "a"}\n' * 50_001, "50,000"),
    (jsonl("{oops", {"foo": 1}), "None of the 2 rows could be used (row 1: Not valid JSON.)"),
])
def test_whole_jsonl_file_problems_raise_one_plain_sentence(data, fragment):
    with pytest.raises(DatasetError) as caught:
        ds.parse_jsonl(data)
    assert isinstance(caught.value, LabError)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


def test_whole_csv_file_problems_raise_a_dataset_error():
    with pytest.raises(DatasetError, match="empty"):
        ds.csv_columns(b"\n\n")
    with pytest.raises(DatasetError, match="no data rows"):
        ds.parse_csv(b"q,a\n", "q", "a")
    with pytest.raises(DatasetError, match="None of the 1 rows"):
        ds.parse_csv(b"q,a\n,\xc3\xa9\n", "q", "a")


# --- the generator -----------------------------------------------------------------------------
def test_generator_turns_the_demo_policy_into_a_pair_about_the_refund_window():
    pairs = dataset_gen.generate_pairs(list(demo_docs()))
    refund = [p for p in pairs if p.source == "customer_service_policy.md" and "14 days" in p.answer]
    assert refund, "no pair carries the 14-day refund window"
    assert {p.source for p in pairs} == {name for name, _ in demo_docs()}
    assert all(p.answerable and p.question and p.answer for p in pairs)


def test_generator_makes_one_pair_per_price_list_row_from_raw_or_extracted_csv():
    raw = (CORPUS_DIR / "price_list.csv").read_text(encoding="utf-8")
    extracted = dict(demo_docs())["price_list.csv"]
    from_raw = dataset_gen.generate_pairs([("price_list.csv", raw)])
    assert from_raw == dataset_gen.generate_pairs([("price_list.csv", extracted)])
    assert len(from_raw) == len(raw.strip().splitlines()) - 1
    kettle = next(p for p in from_raw if "LK-100" in p.question)
    assert kettle.answer == "product: BrewSense Kettle 1.7L; category: Kettle; price_usd: 49.00; warranty_years: 2"


def test_generator_is_deterministic_and_asks_each_question_once():
    first, second = dataset_gen.generate_pairs(list(demo_docs())), dataset_gen.generate_pairs(list(demo_docs()))
    assert first == second and len(first) > 100
    questions = [ds.normalize(p.question) for p in first]
    assert len(questions) == len(set(questions))


def test_generator_heading_rule_answers_with_the_first_two_sentences():
    doc = "# Travel Policy\n\n## Hotels\n\nBook through the portal. Rooms are capped at $150. Suites are not allowed.\n"
    [pair] = [p for p in dataset_gen.generate_pairs([("travel.md", doc)]) if "say about" in p.question]
    assert pair.question == "What does Travel Policy say about hotels?"
    assert pair.answer == "Book through the portal. Rooms are capped at $150."


def test_generator_faq_rule_reads_inline_two_line_and_question_mark_forms():
    doc = ("Q: Is parking free? A: Yes, for visitors.\n\n"
           "Q: Where is the office?\n\nA: At 1 Main Street.\n\n"
           "Can I bring a dog?\nOnly guide dogs are allowed.\n")
    pairs = [(p.question, p.answer) for p in dataset_gen.generate_pairs([("faq.txt", doc)])]
    assert ("Is parking free?", "Yes, for visitors.") in pairs
    assert ("Where is the office?", "At 1 Main Street.") in pairs
    assert ("Can I bring a dog?", "Only guide dogs are allowed.") in pairs


def test_generator_key_value_rule_accepts_colon_dash_and_equals():
    doc = "Support email: help@example.com\nResponse time — 2 business days\nMax upload = 50 MB\n"
    pairs = [(p.question, p.answer) for p in dataset_gen.generate_pairs([("it.md", doc)])]
    assert pairs == [
        ("What is the support email (in it.md)?", "The support email is help@example.com."),
        ("What is the response time (in it.md)?", "The response time is 2 business days."),
        ("What is the max upload (in it.md)?", "The max upload is 50 MB."),
    ]


def test_generator_asks_about_each_sentence_and_counts_the_sentences_that_yielded_a_question():
    doc = ("Remote staff may work abroad for up to 20 days per year. A hotdesk is a desk nobody owns. "
           "The installer fetches updates from https://example.org/updates every night.\n\n"
           "a dry cotton swab.\n")
    generated = dataset_gen.generate([("hr.md", doc)])
    assert [(p.question, p.answer) for p in generated.pairs] == [
        ("How long may remote staff work abroad per year?", "Remote staff may work abroad for up to 20 days per year."),
        ("What is a hotdesk?", "A hotdesk is a desk nobody owns."),
    ]  # the URL sentence and the fragment are dropped
    assert generated.sentences == 4 and generated.written == generated.pairs


def test_generator_tries_the_next_question_when_the_first_was_already_asked():
    doc = "Salaries are paid on the 25th of each month. Salaries are paid on the last day of each month.\n"
    questions = [p.question for p in dataset_gen.generate_pairs([("pay.md", doc)])]
    assert questions == ["When are salaries paid?", "What is paid on the last day of each month?"]


def test_every_question_written_from_a_demo_sentence_is_well_formed():
    generated = dataset_gen.generate(list(demo_docs()))
    share = sum(well_formed(p.question, p.answer, p.answer) for p in generated.written) / len(generated.written)
    assert share == 1.0
    assert not any("___" in p.question or p.question.startswith("According to") for p in generated.pairs)
    assert 60 <= len(generated.written) < generated.sentences  # measured: 68 of 146 sentences


def test_a_dataset_built_from_a_knowledge_base_keeps_how_many_sentences_yielded_a_question(settings, service, kb):
    from core.finetune.service import FinetuneService

    doc = ("# Leave\n\nEmployees receive 15 days of annual leave. Salaries are paid on the 25th of each month. "
           "All rights reserved.\n")
    service.ingest_files(kb, [("leave.md", doc.encode())])
    ft = FinetuneService(settings)
    info = ft.build_from_kb(service, kb, "leave Q&A", unanswerable=0)
    assert (info.sentences, info.sentences_asked) == (3, 2)
    assert ft.datasets.get(info.id).sentences_asked == 2  # kept with the dataset, for its preview


def test_cpt_chunks_stay_under_the_limit_and_keep_every_word_of_each_document():
    docs = [*demo_docs(), ("long.txt", "word " * 700 + ". " + "Short tail.")]
    chunks = dataset_gen.raw_chunks_for_cpt(docs)
    assert all(0 < len(c) <= 1200 for c in chunks)
    assert " ".join(chunks).split() == " ".join(text for _, text in docs).split()
    assert len(dataset_gen.raw_chunks_for_cpt([("a.md", "One.\n\nTwo.")])) == 1


def test_unanswerable_pairs_teach_abstention_and_depend_only_on_the_seed():
    pairs = dataset_gen.unanswerable_pairs(12, seed=3)
    assert len(pairs) == len({p.question for p in pairs}) == 12
    assert all(p.answer == IDK and not p.answerable and p.source is None for p in pairs)
    assert pairs == dataset_gen.unanswerable_pairs(12, seed=3) != dataset_gen.unanswerable_pairs(12, seed=4)
    assert len(dataset_gen.unanswerable_pairs(10_000, seed=0)) == len(dataset_gen.ABSENT_TOPICS) * len(dataset_gen.ABSENT_FRAMES)


# --- splitting and leakage ---------------------------------------------------------------------
def test_split_keeps_each_document_whole_and_is_deterministic():
    pairs = demo_pairs()
    train, test = ds.split_by_document(pairs, test_fraction=0.2, seed=0)
    assert sorted(map(repr, train + test)) == sorted(map(repr, pairs))
    train_docs, test_docs = {p.source for p in train if p.source}, {p.source for p in test if p.source}
    assert test_docs and not train_docs & test_docs
    assert ds.split_by_document(pairs, 0.2, seed=0) == (train, test)
    assert any(ds.split_by_document(pairs, 0.2, seed=s)[1] != test for s in range(1, 6))


def test_split_spreads_unanswerable_and_sourceless_pairs_by_proportion():
    sourced = [QAPair(question=f"q{d}-{i}", answer="a", source=f"doc{d}") for d in range(5) for i in range(4)]
    loose = [QAPair(question=f"loose {i}", answer="a") for i in range(10)]
    _, test = ds.split_by_document(sourced + loose + dataset_gen.unanswerable_pairs(10, 0), 0.2, seed=7)
    assert sum(not p.answerable for p in test) == 2
    assert sum(p.answerable and p.source is None for p in test) == 2
    assert sum(p.source is not None for p in test) == 4  # one whole document of four


def test_split_rejects_a_test_fraction_outside_zero_and_one():
    with pytest.raises(DatasetError, match="between 0 and 1"):
        ds.split_by_document(demo_pairs(), test_fraction=1.0)


def test_leakage_finds_test_answers_repeated_verbatim_in_training_text():
    train = [QAPair(question="When can I return it?",
                    answer="Unopened products: within 14 days of DELIVERY, full refund.")]
    test = [QAPair(question="Refund window?", answer="Within 14 days of delivery."),      # leaks
            QAPair(question="Phone?", answer="1234-5678."),                               # too short to judge
            QAPair(question="Pets?", answer=IDK, answerable=False),                       # abstention
            QAPair(question="Exchanges?", answer="Within 60 days of delivery.")]          # new fact
    assert ds.leakage(train, test) == ["Within 14 days of delivery."]
    assert ds.leakage([QAPair(question="Is it within 60 days of delivery?", answer="Yes.")], test[3:]) == \
        ["Within 60 days of delivery."]
    assert [p.question for p in ds.remove_leaks(train, test)] == ["Phone?", "Pets?", "Exchanges?"]


def test_removing_leaks_from_the_demo_split_leaves_a_clean_test_set():
    train, test = ds.split_by_document(demo_pairs() + ds.parse_jsonl((DATASETS_DIR / "test.jsonl").read_bytes()).pairs)
    clean = ds.remove_leaks(train, test)
    assert ds.leakage(train, clean) == [] and set(map(repr, clean)) <= set(map(repr, test))


# --- the store ---------------------------------------------------------------------------------
TRAIN = [QAPair(question="Refund window?", answer="14 days.", source="policy.md"),
         QAPair(question="Pets?", answer=IDK, answerable=False)]
TEST = [QAPair(question="Phone?", answer="1234-5678.", source="contact.md")]


def test_store_round_trip_writes_the_three_files(tmp_path):
    store = DatasetStore(tmp_path)
    info = store.save("Demo set", TRAIN, TEST, "lumora", "v3", "generated")
    folder = tmp_path / info.id
    assert sorted(f.name for f in folder.iterdir()) == ["meta.json", "test.jsonl", "train.jsonl"]
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["name"] == "Demo set" and meta["id"] == info.id and len(meta["hash"]) == 12
    assert (meta["train_count"], meta["test_count"], meta["kb_name"], meta["kb_version"], meta["origin"]) == \
        (2, 1, "lumora", "v3", "generated")
    assert meta["created_at"].endswith("+00:00")
    assert store.load(info.id) == (TRAIN, TEST)
    assert store.get(info.id) == info and store.list() == [info]
    store.delete(info.id)
    assert store.list() == [] and not folder.exists()
    with pytest.raises(DatasetError, match="no dataset"):
        store.get(info.id)


def test_hash_depends_on_the_content_and_the_split_only(tmp_path):
    store = DatasetStore(tmp_path)
    a = store.save("first", TRAIN, TEST, None, None, "upload")
    b = store.save("second", TRAIN, TEST, "kb", "v1", "generated")
    moved = store.save("moved", TRAIN[:1], TRAIN[1:] + TEST, None, None, "upload")
    assert a.hash == b.hash != moved.hash and a.id != b.id


def test_list_shows_the_newest_dataset_first(tmp_path):
    store = DatasetStore(tmp_path)
    names = [store.save(f"set {i}", TRAIN, [], None, None, "upload").name for i in range(3)]
    (tmp_path / "not-a-dataset").mkdir()
    assert [d.name for d in store.list()] == names[::-1]


@pytest.mark.parametrize("name", ["", "   ", "x" * 81])
def test_dataset_names_need_1_to_80_characters(tmp_path, name):
    with pytest.raises(DatasetError, match="1 to 80"):
        DatasetStore(tmp_path).save(name, TRAIN, TEST, None, None, "upload")


def test_cpt_texts_round_trip_and_are_not_mistaken_for_pairs(tmp_path):
    store = DatasetStore(tmp_path)
    texts = dataset_gen.raw_chunks_for_cpt(list(demo_docs()))
    info = store.save_texts("corpus text", texts, "lumora", "v1")
    assert (info.origin, info.train_count, info.test_count) == ("cpt", len(texts), 0)
    first_row = json.loads((tmp_path / info.id / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first_row == {"text": texts[0]}
    assert store.load_texts(info.id) == texts
    with pytest.raises(DatasetError, match="continued pre-training"):
        store.load(info.id)
    qa = store.save("qa", TRAIN, TEST, None, None, "upload")
    with pytest.raises(DatasetError, match="question-answer pairs"):
        store.load_texts(qa.id)
