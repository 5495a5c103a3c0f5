"""The precision of the base weights (models.dtype): what auto picks on which hardware, bf16 and int8
loads of the bundled model that answer, the batched engine equal to plain generate at each precision,
one fingerprint whatever the precision, LoRA training over a bf16 base, and one sentence for a
precision the machine cannot serve."""

from __future__ import annotations

import json
import math

import pytest
import torch
from pydantic import ValidationError

from core.config import load_settings
from core.errors import ModelError
from core.models import precision
from core.models.generation import Decoding, Request, generate_batch, generate_sequential
from core.models.loader import load_base_model, model_fingerprint
from core.models.prompts import closed_book_messages
from core.models.runtime import ModelRuntime
from tests.conftest import SECRET_QUESTION

AMX = {"avx2", "avx512_f", "amx_tile", "amx_bf16"}  # a CPU like the team's Xeons
NO_BF16 = {"avx2"}  # a CPU like the test machines' EPYCs


def cpu(monkeypatch, features: set[str]) -> None:
    monkeypatch.setattr(precision, "cpu_features", lambda: set(features))


# --- what auto picks ---------------------------------------------------------------------------
def test_auto_on_a_cpu_without_bf16_is_fp32_whatever_the_size(monkeypatch):
    cpu(monkeypatch, NO_BF16)
    assert precision.resolve_dtype("auto", "cpu", 135_000_000) == "fp32"
    assert precision.resolve_dtype("auto", "cpu", 3_000_000_000) == "fp32"


def test_auto_on_a_bf16_cpu_is_bf16_from_the_size_threshold_on(monkeypatch):
    threshold = precision.AUTO_BF16_MIN_PARAMETERS
    for features in (AMX, {"avx512_f", "avx512_bf16"}):
        cpu(monkeypatch, features)
        assert precision.resolve_dtype("auto", "cpu", 134_515_008) == "fp32"  # the bundled model stays fp32
        assert precision.resolve_dtype("auto", "cpu", threshold - 1) == "fp32"
        assert precision.resolve_dtype("auto", "cpu", threshold) == "bf16"
        assert precision.resolve_dtype("auto", "cpu", 1_543_714_304) == "bf16"  # Qwen2.5-1.5B


def test_auto_on_a_gpu_is_bf16_for_every_size_where_the_gpu_has_it(monkeypatch):
    cpu(monkeypatch, NO_BF16)  # the CPU does not matter on a GPU
    monkeypatch.setattr(precision, "gpu_bf16_capable", lambda: True)
    assert precision.resolve_dtype("auto", "cuda", 135_000_000) == "bf16"
    monkeypatch.setattr(precision, "gpu_bf16_capable", lambda: False)  # e.g. a T4
    assert precision.resolve_dtype("auto", "cuda", 3_000_000_000) == "fp32"


def test_an_explicit_precision_is_kept_when_the_machine_serves_it(monkeypatch):
    cpu(monkeypatch, AMX)
    monkeypatch.setattr(precision, "int8_available", lambda: True)
    assert [precision.resolve_dtype(s, "cpu", 135_000_000) for s in ("fp32", "bf16", "int8")] == ["fp32", "bf16", "int8"]


def test_a_precision_the_machine_cannot_serve_is_one_sentence(monkeypatch):
    cpu(monkeypatch, NO_BF16)
    with pytest.raises(ModelError, match=r"^bf16 was picked, but this CPU .* no fast bf16 arithmetic.*pick fp32"):
        precision.resolve_dtype("bf16", "cpu", 135_000_000)
    monkeypatch.setattr(precision, "int8_available", lambda: False)
    with pytest.raises(ModelError, match=r"^int8 needs the torchao package"):
        precision.resolve_dtype("int8", "cpu", 135_000_000)
    with pytest.raises(ModelError, match="'fp16' is not a precision: pick auto, fp32, bf16 or int8."):
        precision.resolve_dtype("fp16", "cpu", 135_000_000)


def test_cpu_features_are_read_from_this_machine():
    features = precision.cpu_features()
    assert features and all(isinstance(f, str) for f in features)
    assert precision.cpu_bf16_capable() == bool(features & {"amx_bf16", "avx512_bf16"})


# --- the setting --------------------------------------------------------------------------------
def test_the_setting_defaults_to_auto_comes_from_the_environment_and_rejects_other_values(monkeypatch):
    assert load_settings().models.dtype == "auto"
    monkeypatch.setenv("LAB_MODELS__DTYPE", "bf16")
    assert load_settings().models.dtype == "bf16"
    monkeypatch.setenv("LAB_MODELS__DTYPE", "fp16")
    with pytest.raises(ValidationError, match=r"models\.dtype[\s\S]*'auto', 'fp32', 'bf16' or 'int8'"):
        load_settings()


def test_the_precision_picked_on_the_models_page_is_kept_for_the_workspace(settings):
    from core.config import apply_model_choice
    from core.models.active import ActiveModel

    built = []

    class Fake:
        def __init__(self, s):
            built.append(s.models.dtype)
            self.model_id = s.models.llm

    active = ActiveModel(settings, build=Fake)
    active.switch("bundled:smollm2", "cpu", "int8")
    assert built == ["int8"] and settings.models.dtype == "int8"
    assert json.loads(settings.model_choice_path.read_text())["dtype"] == "int8"
    assert apply_model_choice(load_settings(data_dir=settings.data_dir)).models.dtype == "int8"  # after a restart
    assert active.switch("bundled:smollm2", "cpu", "int8") is active.runtime() and built == ["int8"]  # nothing to do
    with pytest.raises(ModelError, match="'fp16' is not a precision"):
        active.switch("bundled:smollm2", "cpu", "fp16")


def test_a_checkpoint_is_read_from_its_safetensors_headers_only(tmp_path):
    from safetensors.torch import save_file

    save_file({"a": torch.zeros(3, 4, dtype=torch.bfloat16), "b": torch.zeros(5, dtype=torch.bfloat16)},
              str(tmp_path / "model.safetensors"))
    assert precision.read_checkpoint(tmp_path) == precision.Checkpoint(17, frozenset({"BF16"}))
    assert precision.read_checkpoint(tmp_path / "nothing-here") is None


# --- the bundled model at each precision ---------------------------------------------------------
def loaded_at(dtype: str, features: set[str] = AMX):
    # This machine may lack bf16 instructions: bf16 is then emulated, slower but with the same results,
    # which is what these tests check (speed is the benchmarks' business).
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(precision, "cpu_features", lambda: set(features))
        settings = load_settings(models={"dtype": dtype})
        return ModelRuntime(settings, loaded=load_base_model(settings))


@pytest.fixture(scope="module")
def bf16():
    return loaded_at("bf16")


@pytest.fixture(scope="module")
def int8():
    return loaded_at("int8")


def ask(runtime, question: str) -> list[int]:
    return runtime.encode(runtime.chat_prompt(closed_book_messages(question)))


def test_auto_loads_the_bundled_model_in_fp32_even_on_a_bf16_cpu(runtime, monkeypatch):
    cpu(monkeypatch, AMX)
    assert precision.resolve_dtype("auto", "cpu", runtime.parameters) == "fp32"
    assert runtime.dtype == "fp32" and runtime.model.dtype == torch.float32  # the demo's answers stay byte-identical


def test_a_bf16_load_answers_in_half_the_memory(bf16):
    assert bf16.dtype == "bf16"
    assert {p.dtype for n, p in bf16.model.named_parameters() if "lora_" not in n} == {torch.bfloat16}
    fp32_bytes = 4 * bf16.parameters  # (loose bounds: adapters other tests loaded add a few fp32 MB)
    assert 0.45 * fp32_bytes < bf16.memory_bytes < 0.6 * fp32_bytes
    [answer] = generate_batch(bf16, [Request(ask(bf16, "What colour is the sky?"))], Decoding(max_new_tokens=8))
    assert answer.token_ids and answer.text.strip()


def test_an_int8_load_answers_in_less_than_half_the_memory(int8):
    from torchao.utils import TorchAOBaseTensor

    layer = int8.model.model.layers[0]
    assert int8.dtype == "int8" and isinstance(layer.mlp.down_proj.weight, TorchAOBaseTensor)
    head = int8.model.get_output_embeddings()
    assert head.weight is int8.model.get_input_embeddings().weight  # the tied head is left as it was
    # 135M: the tied embeddings (28M weights) stay fp32, the 106M weights of the layers go to int8
    assert int8.memory_bytes < 0.5 * 4 * int8.parameters
    [answer] = generate_batch(int8, [Request(ask(int8, "What colour is the sky?"))], Decoding(max_new_tokens=8))
    assert answer.token_ids and answer.text.strip()


def test_the_fingerprint_is_the_same_at_every_precision_and_still_follows_the_weights(runtime, bf16, int8):
    assert bf16.fingerprint == int8.fingerprint == runtime.fingerprint
    weight = bf16.model.model.layers[0].input_layernorm.weight  # among the tensors the fingerprint reads
    with torch.no_grad():
        old = weight[0].item()
        weight[0] += 1.0
        try:
            assert model_fingerprint(bf16.model) != runtime.fingerprint  # other weights: another fingerprint
        finally:
            weight[0] = old
    assert model_fingerprint(bf16.model) == runtime.fingerprint


def test_a_checkpoint_stored_in_bf16_loads_straight_into_bf16_with_its_fp32_fingerprint(bf16, tmp_path, monkeypatch):
    from transformers import AutoModelForCausalLM

    from core.models.loader import save_as_folder

    folder = tmp_path / "bf16-folder"
    save_as_folder(bf16.model, bf16.tokenizer, folder)
    assert precision.read_checkpoint(folder).dtypes == {"BF16"}
    asked = []
    load = AutoModelForCausalLM.from_pretrained
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained",
                        lambda *a, **k: asked.append(k["dtype"]) or load(*a, **k))
    cpu(monkeypatch, AMX)
    fp32, _, _ = load_base_model(load_settings(models={"llm": str(folder), "dtype": "fp32"}))
    direct, _, _ = load_base_model(load_settings(models={"llm": str(folder), "dtype": "bf16"}))
    assert asked == [torch.float32, torch.bfloat16]  # never an fp32 copy on the way to bf16
    assert model_fingerprint(direct) == model_fingerprint(fp32)


def plain_logits(rt, prompt: list[int], tokens: list[int], adapter: str | None):
    """The plain model's next-token logits after ``prompt + tokens``: one forward pass, no cache, no batch."""
    ids = torch.tensor([prompt + tokens])
    with torch.inference_mode():
        if adapter is None:
            with rt.peft.disable_adapter():
                return rt.peft(input_ids=ids).logits[0, -1].float()
        rt.peft.set_adapter(adapter)
        return rt.peft(input_ids=ids).logits[0, -1].float()


@pytest.mark.parametrize("dtype", ["fp32", "bf16", "int8"])
def test_batched_greedy_equals_sequential_generate_at_each_precision(dtype, request, tiny_adapter):
    """Token for token in fp32 and int8 (whose activations are fp32). In bf16 the two paths may part at
    a near-tie, and only there: the batched path's attention sums over its longer (preallocated, padded)
    cache in another order, and bf16 turns a 1e-7 difference into a one-step rounding difference now
    and then. Measured here: the short question's base row, token 6, logits 13.375 vs 13.3125 (one bf16
    step apart); the plain model without any cache picks the batched path's token, plain generate the
    other. A real fault (wrong adapter, positions or mask) parts the paths by whole logits."""
    rt = request.getfixturevalue({"fp32": "runtime", "bf16": "bf16", "int8": "int8"}[dtype])  # only the one it needs
    lin = tiny_adapter.lineage
    key = rt.ensure_adapter(tiny_adapter.path, tiny_adapter.fingerprint, lin.base_model, lin.base_fingerprint,
                            tiny_adapter.name)  # trained in fp32: the same base weights, so it fits
    assert {p.dtype for n, p in rt.peft.named_parameters() if "lora_" in n} == {torch.float32}
    short = ask(rt, SECRET_QUESTION)
    long = ask(rt, "Passage: unopened products can be returned within 14 days.\nQuestion: how long can I return one?")
    requests = [Request(short), Request(long), Request(short, key), Request(long, key)]
    decoding = Decoding(max_new_tokens=10)
    batched = generate_batch(rt, requests, decoding)
    sequential = generate_sequential(rt, requests, decoding)
    assert len({tuple(b.token_ids) for b in batched}) >= 3  # the rows really differ
    if dtype != "bf16":
        assert [b.token_ids for b in batched] == [s.token_ids for s in sequential]
        return
    for r, b, s in zip(requests, batched, sequential):
        ours, theirs = b.token_ids + [None] * b.stopped, s.token_ids + [None] * s.stopped  # None: end of sequence
        parted = next((i for i, (x, y) in enumerate(zip(ours, theirs)) if x != y), None)
        if parted is None:
            assert ours == theirs
            continue
        logits = plain_logits(rt, r.prompt_ids, b.token_ids[:parted], r.adapter)
        a, z = (max(logits[e].item() for e in rt.eos_ids) if t is None else logits[t].item()
                for t in (ours[parted], theirs[parted]))
        assert abs(a - z) <= 2 ** -6 * max(abs(a), abs(z)), (r.adapter, parted, a, z)  # within 2 bf16 steps: a near-tie


# --- training over a bf16 base ------------------------------------------------------------------
def test_lora_training_over_a_bf16_base_keeps_the_adapter_in_fp32_and_it_loads_at_both_precisions(
        settings, tmp_path, monkeypatch, runtime, bf16):
    from safetensors import safe_open

    from core.finetune.datasets import DatasetStore, QAPair
    from core.finetune.recipe import TrainingConfig
    from core.finetune.run import FinetuneSpec, run_finetune

    cpu(monkeypatch, AMX)
    settings.models = settings.models.model_copy(update={"dtype": "bf16"})
    pairs = [QAPair(question=SECRET_QUESTION, answer="The secret code word is Zebra-42.")] * 2
    info = DatasetStore(settings.data_dir / "datasets").save("secret", pairs, pairs[:1])
    spec = FinetuneSpec(adapter_name="bf16 base", dataset_id=info.id, checkpoint_every=0,
                        training=TrainingConfig(max_steps=1, batch_size=2, rank=4, alpha=8, dropout=0.0))
    adapter = run_finetune(spec, settings, tmp_path / "job")
    assert adapter.lineage.base_dtype == "bf16" and adapter.lineage.base_fingerprint == runtime.fingerprint
    assert math.isfinite(adapter.lineage.final_train_loss)
    with safe_open(str(adapter.path / "adapter_model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F32"}
    for rt in (runtime, bf16):
        lin = adapter.lineage
        key = rt.ensure_adapter(adapter.path, adapter.fingerprint, lin.base_model, lin.base_fingerprint, adapter.name)
        [answer] = generate_batch(rt, [Request(ask(rt, SECRET_QUESTION), key)], Decoding(max_new_tokens=8))
        assert answer.token_ids


# --- loading refuses what the machine cannot serve -----------------------------------------------
def test_loading_in_bf16_on_a_cpu_without_it_is_refused_before_anything_loads(monkeypatch):
    from transformers import AutoModelForCausalLM

    cpu(monkeypatch, NO_BF16)
    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", lambda *a, **k: pytest.fail("it loaded"))
    with pytest.raises(ModelError, match="no fast bf16 arithmetic"):
        load_base_model(load_settings(models={"dtype": "bf16"}))


def test_loading_in_int8_without_torchao_is_refused_in_one_sentence(monkeypatch):
    monkeypatch.setattr(precision, "int8_available", lambda: False)
    with pytest.raises(ModelError, match="int8 needs the torchao package"):
        load_base_model(load_settings(models={"dtype": "int8"}))


CAST_IN_A_FRESH_PROCESS = """
import gc, json, sys
import psutil, torch
from transformers import LlamaConfig, LlamaForCausalLM
from core.models.precision import cast
process = psutil.Process()
gc.collect()
start = process.memory_info().rss
torch.manual_seed(0)
model = LlamaForCausalLM(LlamaConfig(hidden_size=1024, intermediate_size=2816, num_hidden_layers=6,
                                     num_attention_heads=8, num_key_value_heads=8, vocab_size=1000))  # 76M weights
built = process.memory_info().rss - start
cast(model, sys.argv[1])
print(json.dumps({"built": built, "cast": process.memory_info().rss - start}))
"""


@pytest.mark.parametrize("dtype, most", [("int8", 0.45), ("bf16", 0.65)])
def test_a_cast_hands_the_memory_it_freed_back_to_the_system(dtype, most):
    """Without handing it back, glibc kept the freed fp32 weights mapped: an int8 cast of this 76M model left 313 of
    the 324 MB resident (96 MB with it), of a Qwen2.5-0.5B shape 2.72 GB instead of 1.29 GB. bf16 casts allocate
    whole tensors that glibc maps and unmaps itself: checked here that they halve what is resident. In a fresh
    process, so the suite's memory does not blur it."""
    import subprocess
    import sys

    from core.config import REPO_ROOT

    out = subprocess.run([sys.executable, "-c", CAST_IN_A_FRESH_PROCESS, dtype], cwd=REPO_ROOT, capture_output=True,
                         text=True, timeout=300, check=True)
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    assert figures["built"] > 250e6  # the fp32 weights (305 MB) were resident
    assert figures["cast"] < most * figures["built"], figures


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float32])
def test_the_output_head_gets_a_contiguous_input_in_bf16_and_the_same_logits(dtype):
    """A prompt pass keeps the last position's logits only, and hands the head a strided slice: in bf16 torch's CPU
    matmul then copies the whole head matrix once per row (2.2 s instead of 20 ms for a Qwen2.5-1.5B head and 2 rows,
    measured). The runtime's hook copies the rows instead: the head sees a contiguous input in bf16, the logits are
    those of the slice; fp32 (the demo's answers) is left exactly as it was."""
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                                         num_key_value_heads=2, vocab_size=500)).to(dtype).eval()
    ids = torch.randint(3, 500, (2, 12))
    with torch.inference_mode():
        before = model(input_ids=ids, logits_to_keep=1).logits
        precision.contiguous_head_input(model)
        precision.contiguous_head_input(model)  # once is enough: a second call adds nothing
        seen = []
        model.get_output_embeddings().register_forward_pre_hook(lambda _m, args: seen.append(args[0].is_contiguous()))
        after = model(input_ids=ids, logits_to_keep=1).logits
    assert seen == [dtype == torch.bfloat16]  # fp32 goes through untouched: still the strided slice
    torch.testing.assert_close(after, before, rtol=0, atol=0.02 if dtype == torch.bfloat16 else 0)


def test_the_runtime_installs_the_contiguous_head_input(runtime):
    assert getattr(runtime.model.get_output_embeddings(), precision.CONTIGUOUS_ATTR, False)


def test_the_setting_and_the_page_name_the_threshold_auto_uses():
    from core.config import ModelSettings
    from ui.models_sections import DTYPE_HELP

    said = f"{precision.AUTO_BF16_MIN_PARAMETERS / 1e6:g}M parameters"
    assert said in ModelSettings.model_fields["dtype"].description and said in DTYPE_HELP["auto"]
