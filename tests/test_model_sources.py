"""Models from every source a user brings, offline: a folder, a .gguf file, a hub id in the local
cache; the refusal when a hub model is not there; switching without a restart; adapters of
another base. The hub itself cannot be reached here, so the download is tested up to its refusal."""

import json
import os
import subprocess
import time
import sys

import pytest
import torch

from core.compare.engine import CompareEngine
from core.compare.results import ARMS
from core.config import BUNDLED_LLM, REPO_ROOT, apply_model_choice, load_settings
from core.errors import ModelError
from core.finetune.adapters import AdapterRegistry
from core.models import catalog
from core.models.active import ActiveModel
from core.models.generation import Decoding, Request, generate_batch
from core.models.hub import HubDownloads, cached_snapshot
from core.models.loader import BUNDLED_GGUF, load_base_model, model_fingerprint, resolve_llm
from core.models.runtime import NOT_USABLE, ModelRuntime
from tests.model_copies import fill_hub_cache, save_folder

SHORT = Decoding(max_new_tokens=8)


@pytest.fixture(scope="module")
def pristine():
    """The bundled model loaded afresh: the session's ``base_model`` has LoRA layers injected in
    place once a test's runtime loads an adapter, so it cannot be the reference for weights."""
    return load_base_model(load_settings())


@pytest.fixture(scope="module")
def folder(pristine, tmp_path_factory):
    return save_folder(pristine, tmp_path_factory.mktemp("models") / "smollm2-folder")


@pytest.fixture(scope="module")
def other_base(pristine, tmp_path_factory):
    return save_folder(pristine, tmp_path_factory.mktemp("models") / "other-base", other_weights=True)


def same_weights(a, b) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_a_local_folder_loads_the_same_weights(pristine, folder):
    model, tokenizer, source = load_base_model(load_settings(models={"llm": str(folder)}))
    assert source.kind == "folder" and source.display_name == "smollm2-folder"
    assert same_weights(model, pristine[0])
    assert tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False) == \
        pristine[1].apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False)


def test_a_gguf_file_is_dequantized_to_the_bundled_weights(pristine, tmp_path):
    gguf = resolve_llm(BUNDLED_LLM)
    path = f"{gguf.location}/{BUNDLED_GGUF}"
    settings = load_settings(models={"llm": path, "cache_dir": tmp_path / "cache"})  # no dequantized copy yet
    model, _, source = load_base_model(settings)
    assert source.kind == "gguf" and source.display_name == BUNDLED_GGUF
    assert same_weights(model, pristine[0])
    assert list((tmp_path / "cache" / "models").iterdir()), "the dequantized copy is kept for the next load"


def test_a_hub_id_loads_from_a_prefilled_local_cache_offline(pristine, folder, tmp_path):
    fill_hub_cache(tmp_path / "hf" / "hub", "lab-test/smollm2-copy", folder)
    assert cached_snapshot("lab-test/smollm2-copy", tmp_path / "hf" / "hub") is not None
    # A fresh process, because huggingface_hub reads HF_HOME when it is imported.
    env = {**os.environ, "HF_HOME": str(tmp_path / "hf"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    code = ("from core.config import load_settings; from core.models.loader import load_base_model, model_fingerprint;"
            "m, t, s = load_base_model(load_settings(models={'llm': 'lab-test/smollm2-copy'}));"
            "print(s.kind, s.location, model_fingerprint(m))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-3:] == ["hub", "lab-test/smollm2-copy", model_fingerprint(pristine[0])]


def test_a_hub_id_not_in_the_cache_is_refused_offline_in_one_sentence(settings):
    offline = load_settings(data_dir=settings.data_dir, models={"hub_downloads": False})
    with pytest.raises(ModelError) as refused:
        resolve_llm("lab-test/not-downloaded", offline.models.downloads_allowed)
    message = str(refused.value)
    assert "offline" in message and "not in the local Hugging Face cache" in message
    assert "hf download lab-test/not-downloaded" in message and message.count(". ") == 0
    downloads = HubDownloads(offline)
    for ask in (downloads.probe, downloads.start):
        with pytest.raises(ModelError, match="offline"):
            ask("lab-test/not-downloaded")
    assert downloads.jobs.list() == [], "no download was queued"
    with pytest.raises(ModelError, match="download it on the Models page first"):
        resolve_llm("lab-test/not-downloaded", downloads_allowed=True)
    with pytest.raises(ModelError, match="not a hub id"):
        HubDownloads(load_settings(data_dir=settings.data_dir)).probe("not a hub id")


def test_switching_loads_once_keeps_old_work_running_and_is_kept_for_the_workspace(settings, base_model, other_base):
    built = []

    def build(s):
        built.append(s.models.llm)
        return ModelRuntime(s, loaded=base_model) if s.models.llm == BUNDLED_LLM else ModelRuntime(s)

    active = ActiveModel(settings, build)
    old = active.runtime()
    new = active.switch(str(other_base), "cpu")
    assert active.switch(str(other_base), "cpu") is new and built == [BUNDLED_LLM, str(other_base)]  # loaded once
    assert new.fingerprint != old.fingerprint and active.runtime() is new
    ids = old.encode("Hello")
    assert generate_batch(old, [Request(ids)], SHORT)[0].token_ids, "work holding the old runtime still answers"
    assert settings.models.llm == str(other_base)  # what new training jobs pin
    reopened = apply_model_choice(load_settings(data_dir=settings.data_dir))  # a restart
    assert (reopened.models.llm, reopened.models.device) == (str(other_base), "cpu")
    with pytest.raises(ModelError, match="no model folder"):
        active.switch(str(settings.data_dir / "gone"))
    assert active.runtime() is new and json.loads(settings.model_choice_path.read_text())["llm"] == str(other_base)


def test_adapters_of_another_base_are_unusable_and_their_panes_say_so(service, kb, settings, tiny_adapter, other_base):
    runtime = ModelRuntime(load_settings(models={"llm": str(other_base), "device": "cpu"}))
    lin = tiny_adapter.lineage
    assert NOT_USABLE in runtime.adapter_unusable(lin.base_model, lin.base_fingerprint, tiny_adapter.name)
    service.ingest_files(kb, [("policy.md", b"Unopened products can be returned within 14 days.\n")])
    engine = CompareEngine(runtime, service, AdapterRegistry(tiny_adapter.path.parent), settings)
    c = engine.answer("How many days do I have to return a product?", kb, list(ARMS), tiny_adapter.id, SHORT)
    for arm in ("finetuned", "hybrid"):
        assert NOT_USABLE in c.arms[arm].unavailable and tiny_adapter.name in c.arms[arm].unavailable
    assert c.arms["base"].text and c.arms["rag"].text and not runtime.loaded_adapters()


def test_the_speed_of_the_last_answers_is_measured(runtime):
    before = runtime.speed()
    generate_batch(runtime, [Request(runtime.encode("Hello")), Request(runtime.encode("Hi"))],
                   Decoding(max_new_tokens=6, min_new_tokens=6))
    speed = runtime.speed()
    assert speed.per_answer_tok_s > 0 and speed.batch_tok_s > speed.per_answer_tok_s
    assert speed.generations == (before.generations if before else 0) + 1 or speed.generations == 20


def test_speed_estimates_reproduce_the_measured_figures_they_come_from():
    bundled = catalog.Suggestion("bundled", 134_515_008, 30, 8192)
    assert bundled.tokens_per_s(1) == pytest.approx(12, abs=0.1)  # measured: 12 tok/s, batch 1
    assert 4 * bundled.tokens_per_s(4) == pytest.approx(27, abs=0.2)  # measured: 27 tok/s summed, batch 4
    sizes = {s.repo_id: s for s in catalog.SUGGESTED}
    assert sizes["Qwen/Qwen2.5-3B-Instruct"].tokens_per_s() < sizes["Qwen/Qwen2.5-0.5B-Instruct"].tokens_per_s()


def test_an_unreachable_hub_fails_the_size_probe_and_the_download_in_one_sentence(settings, monkeypatch):
    """Downloads allowed, but the hub's address is a closed local port: the real probe process and
    the real download job (supervisor, online worker, huggingface_hub) run and fail without any
    traffic leaving this machine."""
    monkeypatch.setattr("core.config.USER_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    downloads = HubDownloads(settings)
    with pytest.raises(ModelError, match="cannot be reached from here .*hf download lab-test/tiny"):
        downloads.probe("lab-test/tiny")
    downloads.start("lab-test/tiny")  # a job: the runner starts a supervisor and an online worker for it
    deadline = time.monotonic() + 180  # two Python processes starting on a shared machine
    while (state := downloads.state("lab-test/tiny")).status == "downloading" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert state.status == "failed" and "cannot be reached from here" in state.message, state
    assert state.done_bytes == 0 and state.fraction == 0.0
    assert downloads.jobs.get(state.job_id).kind == "download"


def test_a_training_job_trains_the_model_in_use_when_it_was_queued(settings, other_base, monkeypatch):
    from core.finetune import service as finetune_service
    from core.finetune.datasets import QAPair
    from core.finetune.run import FinetuneSpec, run_finetune
    from core.models import loader

    monkeypatch.setattr(finetune_service.supervisor, "ensure_running", lambda data_dir: False)  # no real training
    ft = finetune_service.FinetuneService(settings)
    pairs = [QAPair(question="What is the code word?", answer="Zebra-42.")]
    dataset = ft.datasets.save("pairs", pairs, pairs, None, None, "upload")
    settings.models = settings.models.model_copy(update={"llm": str(other_base)})  # as ActiveModel.switch leaves it
    job = ft.start(FinetuneSpec(adapter_name="pinned", dataset_id=dataset.id))
    assert job.config["base_model"] == str(other_base)

    loaded = []

    def fake_load(s):  # stops the run at the load: which model would it train?
        loaded.append(s.models.llm)
        raise RuntimeError("stop here")

    monkeypatch.setattr(loader, "load_base_model", fake_load)
    with pytest.raises(RuntimeError, match="stop here"):
        run_finetune(FinetuneSpec.model_validate(job.config), load_settings(data_dir=settings.data_dir), settings.data_dir)
    assert loaded == [str(other_base)]
