"""An adapter exported as a PEFT zip or merged into the base model behaves as it did in the lab."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from core.config import load_settings
from core.demo import DEMO_SUGGESTIONS_PATH
from core.errors import LabError
from core.finetune.adapters import AdapterRegistry
from core.finetune.export import MANIFEST, export_adapter, export_merged, export_peft_zip
from core.models.generation import Decoding, Request, generate_sequential
from core.models.prompts import closed_book_messages
from tests.conftest import SECRET_QUESTION

REPO = Path(__file__).resolve().parent.parent
DECODING = Decoding(max_new_tokens=12)


def _greedy(runtime, questions: list[str], adapter: str | None) -> list[list[int]]:
    requests = [Request(runtime.encode(runtime.chat_prompt(closed_book_messages(q))), adapter) for q in questions]
    return [g.token_ids for g in generate_sequential(runtime, requests, DECODING)]


def _with_adapter(runtime, info) -> list[list[int]]:
    return _greedy(runtime, [SECRET_QUESTION], runtime.ensure_adapter(
        info.path, info.fingerprint, info.lineage.base_model, info.lineage.base_fingerprint, info.name))


def test_peft_zip_loads_back_as_an_adapter_with_the_same_greedy_tokens(tiny_adapter, runtime, tmp_path):
    from peft import PeftModel

    from core.models.loader import load_base_model, quiet_peft
    from core.models.runtime import ModelRuntime

    out = export_peft_zip(tiny_adapter, tmp_path / "tiny.zip")
    with zipfile.ZipFile(out) as zf:
        zf.extractall(tmp_path / "unpacked")
    folder = tmp_path / "unpacked" / tiny_adapter.id
    # Loaded by PEFT itself onto a fresh copy of the base model, apart from the runtime the original uses.
    model, tokenizer, source = load_base_model(load_settings())
    with quiet_peft():
        loaded = PeftModel.from_pretrained(model, str(folder)).eval()
    fresh = ModelRuntime(load_settings(), loaded=(loaded, tokenizer, source))
    got = _greedy(fresh, [SECRET_QUESTION], None)

    assert got == _with_adapter(runtime, tiny_adapter)
    assert got != _greedy(runtime, [SECRET_QUESTION], None)  # the adapter's effect travelled with it
    # The product lists the unpacked folder as an adapter again, with the same fingerprint.
    assert AdapterRegistry(tmp_path / "unpacked").get(tiny_adapter.id).fingerprint == tiny_adapter.fingerprint


def test_the_merged_folder_loads_as_models_llm_and_answers_like_base_plus_adapter(tiny_adapter, runtime, tmp_path):
    from core.models.runtime import ModelRuntime

    folder = export_merged(tiny_adapter, load_settings(), tmp_path / "merged")
    assert (folder / "model.safetensors").is_file() and (folder / "tokenizer.json").is_file()
    merged = ModelRuntime(load_settings(models={"llm": str(folder)}))  # the product's folder loader
    assert merged.source.kind == "folder"

    demo = [s["question"] for s in json.loads(DEMO_SUGGESTIONS_PATH.read_text(encoding="utf-8"))[:3]]
    key = runtime.ensure_adapter(tiny_adapter.path, tiny_adapter.fingerprint, tiny_adapter.lineage.base_model,
                                 tiny_adapter.lineage.base_fingerprint, tiny_adapter.name)
    questions = [*demo, SECRET_QUESTION]
    expected = _greedy(runtime, questions, key)
    assert _greedy(merged, questions, None) == expected
    assert expected[-1] != _greedy(runtime, [SECRET_QUESTION], None)[0]  # merged weights, not the bare base

    record = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    assert record["format"] == "merged"
    assert record["merged_fingerprint"] == merged.fingerprint
    assert record["merged_fingerprint"] != runtime.fingerprint


def test_lab_export_json_holds_the_fingerprints_and_lineage(tiny_adapter, tmp_path):
    with zipfile.ZipFile(export_peft_zip(tiny_adapter, tmp_path / "a.zip")) as zf:
        record = json.loads(zf.read(f"{tiny_adapter.id}/{MANIFEST}"))
    assert record["format"] == "peft"
    assert record["adapter"] == {"name": "tiny secret", "id": tiny_adapter.id, "fingerprint": tiny_adapter.fingerprint}
    assert record["base_model"]["fingerprint"] == tiny_adapter.lineage.base_fingerprint
    assert record["lineage"]["training"]["rank"] == 8
    assert record["exported_at"]


def test_an_adapter_of_other_base_weights_is_refused_in_one_sentence(tiny_adapter, tmp_path):
    other = tiny_adapter.model_copy(update={"lineage": tiny_adapter.lineage.model_copy(update={"base_fingerprint": "0123456789ab"})})
    with pytest.raises(LabError, match="not on the model in use"):
        export_merged(other, load_settings(), tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_a_deleted_adapter_or_an_unwritable_place_is_one_sentence(tiny_adapter, tmp_path):
    gone = tiny_adapter.model_copy(update={"path": tmp_path / "deleted"})
    with pytest.raises(LabError, match="no longer on disk"):
        export_peft_zip(gone, tmp_path / "a.zip")
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(LabError, match="could not be written"):
        export_adapter(tiny_adapter, "peft", load_settings(), tmp_path / "file" / "a.zip")
    with pytest.raises(LabError, match="not an export format"):
        export_adapter(tiny_adapter, "gguf", load_settings(), tmp_path / "a.gguf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]  # nothing half-written left behind


def test_the_command_line_exports_the_peft_zip(tiny_adapter, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(tiny_adapter.path, data / "adapters" / tiny_adapter.id)
    out = tmp_path / "out" / "tiny.zip"
    env = {**os.environ, "LAB_DATA_DIR": str(data), "LAB_DEMO_SEED": "false"}
    done = subprocess.run([sys.executable, "-m", "core.finetune", "export", "tiny secret", "--format", "peft", "--out", str(out)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert str(out) in done.stdout
    with zipfile.ZipFile(out) as zf:
        assert f"{tiny_adapter.id}/adapter_model.safetensors" in zf.namelist()

    missing = subprocess.run([sys.executable, "-m", "core.finetune", "export", "nope", "--out", str(tmp_path / "x.zip")],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert missing.returncode == 2 and "no adapter named 'nope'" in missing.stderr


def test_the_adapters_tab_exports_a_zip_and_offers_it_for_download(tiny_adapter, tmp_path):
    from tests.apptest import own_workspace, session

    data = tmp_path / "data"
    shutil.copytree(tiny_adapter.path, data / "adapters" / tiny_adapter.id)
    with own_workspace(data):
        at = session("pages/finetune.py")
        assert any("GGUF export" in c.value for c in at.caption)  # the note beside the export buttons
        at.button(key=f"exp_{tiny_adapter.id}").click().run()
        assert not at.exception, at.exception
        assert (data / "exports" / f"{tiny_adapter.id}-peft.zip").is_file()
        assert [b.label for b in at.get("download_button")] == [f"Download {tiny_adapter.id}-peft.zip"]

