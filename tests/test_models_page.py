"""The Models page, headless (AppTest): the model in use, a switch without a restart that a
restart keeps, adapters of another base listed as unusable, the offline sentence for a hub id, a hub
download shown and cancelled through its job record, the precision shown and switched, and the suggested
models' figures, measured (bench/shapes.py) or estimated."""

import json
import os
import re
import shutil

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.config import REPO_ROOT
from tests.model_copies import save_folder
from tests.test_shapes import figures, write_run

TIMEOUT = 300


@pytest.fixture(scope="module")
def page_env(tmp_path_factory, base_model, tiny_adapter):
    """Its own data folder with one adapter trained on the bundled model, and fresh app resources
    (they are process-wide: cleared before and after, so other page tests keep their own)."""
    data = tmp_path_factory.mktemp("models-page-data")
    shutil.copytree(tiny_adapter.path, data / "adapters" / tiny_adapter.path.name)
    other = save_folder(base_model, tmp_path_factory.mktemp("models") / "other-base", other_weights=True)
    old = os.environ.get("LAB_DATA_DIR")
    os.environ["LAB_DATA_DIR"] = str(data)
    st.cache_resource.clear()
    yield data, other
    st.cache_resource.clear()
    if old is None:
        os.environ.pop("LAB_DATA_DIR")
    else:
        os.environ["LAB_DATA_DIR"] = old


def open_models_page() -> AppTest:
    at = AppTest.from_file(str(REPO_ROOT / "pages" / "models.py"), default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def headings(at: AppTest) -> list[str]:
    """The page's #### headings, as shown (markdown escapes undone)."""
    return [re.sub(r"\\(.)", r"\1", m.value.removeprefix("#### ")) for m in at.markdown if m.value.startswith("#### ")]


def adapter_rows(at: AppTest) -> dict[str, str]:
    table = next(d.value for d in at.dataframe if "with this model" in d.value.columns)
    return dict(zip(table["adapter"], table["with this model"]))


def test_switching_model_needs_no_restart_and_a_restart_keeps_it(page_env, tiny_adapter):
    from ui import resources

    data, other = page_env
    at = open_models_page()
    assert "SmolLM2-135M-Instruct (Q4_1 GGUF)" in headings(at)
    assert metric(at, "Parameters") == "134.5 M" and metric(at, "Context window, tokens") == "8,192"
    assert metric(at, "Answers on") == "CPU"
    assert adapter_rows(at) == {tiny_adapter.name: "✅ usable"}
    before = resources.runtime()

    at.radio(key="models_kind").set_value("folder").run()
    at.text_input(key="models_folder").input(str(other)).run()
    at.selectbox(key="models_device").set_value("cpu").run()
    next(b for b in at.button if b.label == "Use this model").click().run()
    assert not at.exception, at.exception
    assert any("Now answering with other-base" in s.value for s in at.success)
    assert "other-base" in headings(at)
    assert adapter_rows(at) == {tiny_adapter.name: "❌ not usable: trained on another base model"}
    after = resources.runtime()
    assert after is not before and after.fingerprint != before.fingerprint  # same process: no restart
    assert resources.settings().models.llm == str(other)

    st.cache_resource.clear()  # what a restart does to the app's resources
    again = open_models_page()
    assert "other-base" in headings(again)
    assert (data / "model.json").is_file()


def test_a_hub_id_not_in_the_cache_gets_the_offline_sentence(page_env):
    at = open_models_page()
    at.radio(key="models_kind").set_value("hub").run()
    at.text_input(key="models_hub").input("lab-test/not-downloaded").run()
    assert not at.exception, at.exception
    info = " ".join(i.value for i in at.info)
    assert "not in the local Hugging Face cache" in info and "hf download lab-test/not-downloaded" in info
    assert not any(b.label.startswith(("Download", "Ask the hub")) for b in at.button)
    assert not any(b.label == "Use this model" for b in at.button)


@pytest.fixture
def empty_env(tmp_path, monkeypatch):
    """An empty data folder (no adapter to train first) and fresh app resources."""
    monkeypatch.setenv("LAB_DATA_DIR", str(tmp_path / "data"))
    st.cache_resource.clear()
    yield tmp_path / "data"
    st.cache_resource.clear()


def test_a_hub_download_shows_its_job_and_cancels_from_the_page(empty_env, monkeypatch):
    """The download is a job like any other: the page reads its record (no runner here: it stays
    queued, and says what it waits for), its Cancel button cancels it, and the page then says so."""
    from core.jobs.store import JobStore

    monkeypatch.setattr("core.config.USER_HUB_OFFLINE", False)  # downloads allowed
    store = JobStore(empty_env)
    job = store.submit("download", "Download lab-test/tiny", {"repo_id": "lab-test/tiny"})
    at = open_models_page()
    at.radio(key="models_kind").set_value("hub").run()
    at.text_input(key="models_hub").input("lab-test/tiny").run()
    assert not at.exception, at.exception
    bar = at.progress[0].text
    assert "Downloading lab-test/tiny" in bar and "waiting: starting the job runner" in bar, bar
    assert any("Download 'Download lab-test/tiny'" in c.value for c in at.sidebar.caption)  # listed with every job

    at.button(key="hub_cancel").click().run()
    assert not at.exception, at.exception
    assert store.get(job.id).status == "cancelled"
    assert any("Cancelled before it started" in i.value for i in at.info)
    assert any(b.label == "Ask the hub for its size" for b in at.button)  # free to start again


def test_the_page_shows_the_precision_and_switches_it_and_refuses_one_the_cpu_cannot_serve(page_env, monkeypatch):
    from core.models import precision
    from ui import resources

    data, _ = page_env
    monkeypatch.setattr(precision, "cpu_features", lambda: {"avx2"})  # a CPU without bf16 instructions
    at = open_models_page()
    assert metric(at, "Precision") == "fp32"  # auto, on the bundled model or the folder copy of it
    assert at.selectbox(key="models_dtype").value == "auto"

    at.selectbox(key="models_dtype").set_value("bf16").run()
    next(b for b in at.button if b.label == "Use this model").click().run()
    assert not at.exception, at.exception
    assert any("no fast bf16 arithmetic" in e.value for e in at.error)  # one sentence, and nothing changed
    assert metric(at, "Precision") == "fp32" and resources.settings().models.dtype == "auto"

    at.selectbox(key="models_dtype").set_value("int8").run()
    next(b for b in at.button if b.label == "Use this model").click().run()
    assert not at.exception, at.exception
    assert metric(at, "Precision") == "int8" and resources.runtime().dtype == "int8"
    assert json.loads((data / "model.json").read_text())["dtype"] == "int8"  # a restart keeps it


def suggestions_section(measured_file: str):
    """The page's suggestions section alone (no model to load), reading its figures from ``measured_file``."""
    from pathlib import Path

    from ui import models_sections

    models_sections.suggestions(None, measured_file=Path(measured_file))


def open_suggestions(measured_file):
    """The section opened headless, and its table indexed by model."""
    at = AppTest.from_function(suggestions_section, args=(str(measured_file),), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at, at.dataframe[0].value.set_index("model")


def test_the_suggestions_show_measured_figures_with_their_machine_and_date(tmp_path):
    from dataclasses import asdict

    path = tmp_path / "shapes_measured.json"
    write_run(path, [asdict(figures())])  # Qwen2.5-1.5B in bf16 only
    at, table = open_suggestions(path)
    measured = table.loc["Qwen/Qwen2.5-1.5B-Instruct"]
    assert measured["figures"] == "measured on Test CPU 9000 (no bf16 instructions), 2026-12-07"
    assert measured["memory fp32 / bf16"] == "6.2 GB (est.) / 3.1 GB"
    assert measured["tok/s, one answer, fp32 / bf16"].endswith("(est.) / 4.2")
    assert measured["four arms of a question, fp32 / bf16"] == "— / 13.7 s"
    assert measured["LoRA step, fp32 / bf16"] == "— / 9.5 s"
    others = table.drop(index="Qwen/Qwen2.5-1.5B-Instruct")
    assert set(others["figures"]) == {"estimates"} and others["memory fp32 / bf16"].str.contains(r"\(est\.\) / —").all()
    captions = " ".join(c.value for c in at.caption)
    assert "Measured on Test CPU 9000 (2 cores, no bf16 instructions), 2026-12-07" in captions and "48 new tokens" in captions


def test_without_measurements_every_suggested_figure_is_an_estimate_labelled_so(tmp_path):
    at, table = open_suggestions(tmp_path / "absent.json")
    assert set(table["figures"]) == {"estimates"}
    assert table["tok/s, one answer, fp32"].str.endswith("(est.)").all()
    assert not any("Measured on" in c.value for c in at.caption)


def test_the_suggestions_show_a_part_for_each_precision_measured(tmp_path):
    """A CPU without bf16 instructions is measured in fp32 and int8: the columns say so, no bf16 dashes."""
    from dataclasses import asdict

    path = tmp_path / "shapes_measured.json"
    write_run(path, [asdict(figures(dtype="fp32", memory_bytes=6_200_000_000, four_arms_s=41.0)),
                     asdict(figures(dtype="int8", memory_bytes=1_900_000_000, four_arms_s=38.5)),
                     asdict(figures("HuggingFaceTB/SmolLM2-360M-Instruct", "fp32", memory_bytes=1_460_000_000))])
    _, table = open_suggestions(path)
    qwen = table.loc["Qwen/Qwen2.5-1.5B-Instruct"]
    assert qwen["memory fp32 / int8"] == "6.2 GB / 1.9 GB"
    assert qwen["four arms of a question, fp32 / int8"] == "41.0 s / 38.5 s"
    assert table.loc["HuggingFaceTB/SmolLM2-360M-Instruct", "memory fp32 / int8"] == "1.5 GB / —"
    assert table.loc["Qwen/Qwen2.5-3B-Instruct", "memory fp32 / int8"].endswith("(est.) / —")
    assert not any("bf16" in column for column in table.columns)
