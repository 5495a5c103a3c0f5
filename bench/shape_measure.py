"""The measuring side of bench/shapes.py: build one published model shape with random weights at one
precision and measure it (memory, prompt pass, decoding in a plain loop and through the engine, the four
arms of a demo question, one LoRA step). Runs in a process of its own, which bench/shapes.py starts
once per (shape, precision) so that memory figures are clean; nothing here prints a table or writes
a file."""

from __future__ import annotations

import resource
import sys
import tempfile
import time
import traceback
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core  # noqa: E402,F401  (sets the MKL code path before torch loads)
from core.models.catalog import ShapeFigures  # noqa: E402

LONG, SHORT = 550, 60  # prompt tokens: a RAG prompt of the demo (3 passages of 120 tokens), a closed-book one
TRAIN_ROWS, TRAIN_LEN, TRAIN_ANSWER = 8, 64, 16  # the recipe's batch of 8; a demo pair is about 55-65 tokens
GB = 1e9

def rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KB on Linux


def build(config_dir: str, dtype: str):
    """The shape in ``config_dir`` with random weights: torch's initialisation is skipped and every tensor filled
    once (normal(0, initializer_range) for matrices, zero biases, unit norms), which takes a single pass."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.initialization import no_init_weights

    config = AutoConfig.from_pretrained(config_dir)
    with no_init_weights():  # int8 is built in fp32 and quantized, as the app's loader does (core.models.precision.cast)
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16 if dtype == "bf16" else torch.float32)
    # Skipping the initialisation skips the tying too (init_weights does both): without it a tied shape carries a
    # second vocabulary matrix (measured: +0.6 GB resident for Qwen2.5-0.5B in fp32).
    model.tie_weights()
    if getattr(config, "tie_word_embeddings", False):
        assert model.get_output_embeddings().weight is model.get_input_embeddings().weight, "embeddings not tied"
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2:
                p.normal_(0.0, getattr(config, "initializer_range", 0.02), generator=generator)
            else:
                p.fill_(0.0 if name.endswith("bias") else 1.0)
    assert all(torch.isfinite(b).all() for b in model.buffers()), "a buffer was left uninitialised"
    if dtype == "int8":
        from core.models.precision import cast

        cast(model, "int8")
    return model.eval()


def save_tokenizer(folder: str) -> str:
    """The bundled model's tokenizer, saved once to ``folder`` for every measuring process (read from there in under
    a second; from the GGUF file it takes ~15 s). Runs in a process of its own, so the parent never runs torch."""
    from core.config import load_settings
    from core.models.loader import load_base_model

    _, tokenizer, _ = load_base_model(load_settings(data_dir=Path(folder) / "data"))
    tokenizer.save_pretrained(folder)
    return folder


class FoldedTokenizer:
    """The bundled tokenizer standing in for a shape's own, for the engine's per-step text decoding."""

    def __init__(self, inner, eos_id: int):
        self.inner, self.size = inner, len(inner)
        self.eos_token_id = self.pad_token_id = eos_id

    def decode(self, ids, **kwargs) -> str:
        return self.inner.decode([i % self.size for i in ids], **kwargs)


def prompt_pass(model, ids) -> float:
    """Tokens/s of one prompt pass, as the engine runs it (a growing cache, logits of the last position)."""
    import torch
    from transformers import DynamicCache

    started = time.perf_counter()
    with torch.inference_mode():
        model(input_ids=ids, cache=DynamicCache(), use_cache=True, logits_to_keep=1)
    return ids.numel() / (time.perf_counter() - started)


def plain_loop(model, ids, tokens: int) -> float:
    """Greedy decoding with a static cache, nothing else: tokens/s summed over the rows, prompt pass excluded."""
    import torch
    from transformers import StaticCache

    rows, length = ids.shape
    cache = StaticCache(config=model.config, max_cache_len=length + tokens + 1)
    with torch.inference_mode():
        out = model(input_ids=ids, cache=cache, use_cache=True, cache_position=torch.arange(length), logits_to_keep=1)
        current = out.logits[:, -1].argmax(-1, keepdim=True)
        started = time.perf_counter()
        for position in range(length, length + tokens - 1):
            out = model(input_ids=current, cache=cache, use_cache=True, cache_position=torch.tensor([position]))
            current = out.logits[:, -1].argmax(-1, keepdim=True)
    return rows * (tokens - 1) / (time.perf_counter() - started)


def engine_decoding(runtime, prompt: list[int], rows: int, tokens: int) -> float:
    """The engine's decoding steps (its first token comes from the prompt pass): tokens/s summed over the rows."""
    from core.models.generation import Decoding, Request, generate_batch

    results = generate_batch(runtime, [Request(prompt)] * rows, Decoding(max_new_tokens=tokens, min_new_tokens=tokens))
    return sum(len(r.token_ids) - 1 for r in results) / max(r.decode_s for r in results)


def random_adapter(model, folder: Path):
    """A LoRA adapter of the recipe's default shape with random weights, saved to ``folder``; returns the model
    without it (the runtime loads it back, as the app does)."""
    import torch

    from core.finetune.recipe import TrainingConfig, add_lora

    peft_model = add_lora(model, TrainingConfig())
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:  # zero at creation: the rows would not differ from base rows
                p.normal_(0, 0.01)
    peft_model.save_pretrained(str(folder))
    return peft_model.unload()


def lora_step(model, vocab: int, generator) -> float:
    """Seconds of the second of two training steps of the product's recipe on one batch."""
    import torch

    from core.finetune.recipe import IGNORE, Example, TrainingConfig, add_lora, train

    examples = []
    for _ in range(TRAIN_ROWS):
        ids = torch.randint(3, vocab, (TRAIN_LEN,), generator=generator).tolist()
        examples.append(Example(ids, [IGNORE] * (TRAIN_LEN - TRAIN_ANSWER) + ids[-TRAIN_ANSWER:]))
    result = train(add_lora(model, TrainingConfig()), examples, [], TrainingConfig(max_steps=2), pad_id=0)
    return result.history[1].elapsed_s - result.history[0].elapsed_s


def measure(job: dict) -> dict:
    """Build one shape at one dtype and measure it (see the module's docstring); returns ShapeFigures as a dict."""
    import gc

    import torch
    from transformers import AutoTokenizer

    from core.config import load_settings
    from core.models.generation import Decoding, Request, generate_batch
    from core.models.loader import ModelSource
    from core.models.runtime import ModelRuntime

    def progress(what: str) -> None:  # a full run takes long: say where it is
        print(f"    {job['repo_id']} {job['dtype']}: {what}", flush=True)

    inner = AutoTokenizer.from_pretrained(job["tokenizer_dir"])
    gc.collect()
    before = rss()
    model = build(job["config_dir"], job["dtype"])
    after = rss()
    progress(f"built, {(after - before) / GB:.2f} GB resident")
    config, repeats, tokens = model.config, job["repeats"], job["tokens"]
    vocab = config.vocab_size
    generator = torch.Generator().manual_seed(1)
    long_ids = torch.randint(3, vocab, (1, LONG), generator=generator)
    short_ids = torch.randint(3, vocab, (1, SHORT), generator=generator)

    # Each timed part runs `repeats` times; the best is kept (tokens/s: the highest; seconds: the lowest).
    prompt = max(prompt_pass(model, long_ids.repeat(2, 1)) for _ in range(repeats))
    loop = {rows: max(plain_loop(model, short_ids.repeat(rows, 1), tokens) for _ in range(repeats)) for rows in (1, 4)}
    progress(f"prompt pass {prompt:.1f} tok/s, plain loop {loop[1]:.1f} / {loop[4]:.1f} tok/s (1 / 4 rows)")

    with tempfile.TemporaryDirectory() as tmp:
        model = random_adapter(model, Path(tmp) / "adapter")
        eos = config.eos_token_id[0] if isinstance(config.eos_token_id, list) else config.eos_token_id
        source = ModelSource(job["config_dir"], None, job["repo_id"], "folder")
        runtime = ModelRuntime(load_settings(data_dir=Path(tmp) / "data"), loaded=(model, FoldedTokenizer(inner, eos), source))
        short, long = short_ids[0].tolist(), long_ids[0].tolist()
        engine = {rows: max(engine_decoding(runtime, short, rows, tokens) for _ in range(repeats)) for rows in (1, 4)}
        progress(f"engine {engine[1]:.1f} / {engine[4]:.1f} tok/s (1 / 4 rows)")
        key = runtime.ensure_adapter(Path(tmp) / "adapter", "random", job["repo_id"], runtime.fingerprint, "random LoRA")
        arms = [Request(short), Request(long), Request(short, key), Request(long, key)]  # base, RAG, fine-tuned, hybrid
        decoding = Decoding(max_new_tokens=tokens, min_new_tokens=tokens)

        def four_arms() -> float:
            started = time.perf_counter()
            generate_batch(runtime, arms, decoding)
            return time.perf_counter() - started

        four_arms_s = min(four_arms() for _ in range(repeats))
        peak = peak_rss()
        progress(f"four arms {four_arms_s:.2f} s, peak RSS {peak / GB:.2f} GB")
        base = runtime.peft.unload()  # the runtime is done: its adapter's layers come off for training
    step_s = lora_step(base, vocab, generator) if job["train"] else None
    return asdict(ShapeFigures(
        repo_id=job["repo_id"], dtype=job["dtype"], parameters=base.num_parameters(), threads=torch.get_num_threads(),
        memory_bytes=after - before, rss_bytes=after, prompt_tok_s=prompt, loop_tok_s_1=loop[1], loop_tok_s_4=loop[4],
        engine_tok_s_1=engine[1], engine_tok_s_4=engine[4], four_arms_s=four_arms_s, peak_rss_bytes=peak,
        lora_step_s=step_s, train_peak_rss_bytes=peak_rss()))


def child(work, job, reply) -> None:
    try:
        reply.send({"value": work(job)})
    except BaseException as exc:  # the parent records it and goes on with the next measurement
        traceback.print_exc()
        reply.send({"error": f"{type(exc).__name__}: {exc}"})
    finally:
        reply.close()
