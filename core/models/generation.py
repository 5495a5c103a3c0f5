"""Batched generation: several prompts, each with its own adapter (or none), decoded together.

How: rows with the same prompt are prefilled together (same length, so no padding enters the
prompt pass and its numerics equal the sequential path's); the per-prompt KV caches are then
left-padded into one cache and all rows decode together, one token per step, each row through
its own adapter via PEFT's mixed-adapter batches. On 2 CPU cores a step of 4 rows costs about
as much as a step of 1 (see bench/compare.py), which is where the speed comes from.

``generate_sequential`` is the plain-``generate`` path, one request after another: the
baseline of the benchmark and the reference the tests compare against.
"""

from __future__ import annotations

import inspect
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

from pydantic import BaseModel, Field

from core.models.runtime import BASE, ModelRuntime


def cache_kwarg(model) -> str:
    """The forward argument that takes the KV cache: transformers 5.24 renamed ``past_key_values`` to
    ``cache`` (the old name still works but warns on every step); both are handled so that moving the
    pin (see tests/test_pins.py) stays a small step."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


class Decoding(BaseModel):
    """Decoding settings: identical for every arm of a comparison."""

    max_new_tokens: int = Field(96, ge=1, le=2048)
    temperature: float = Field(0.0, ge=0, le=2, description="0 = greedy.")
    seed: int = Field(0, description="Sampling seed (used when temperature > 0).")
    min_new_tokens: int = Field(0, ge=0, description="End-of-sequence is suppressed before this many tokens (benchmarks).")


@dataclass
class Request:
    prompt_ids: list[int]
    adapter: str | None = None  # a key from ModelRuntime.ensure_adapter, or None for the base model


@dataclass
class Generated:
    token_ids: list[int] = field(default_factory=list)
    text: str = ""
    prefill_s: float = 0.0  # this row's prompt pass
    decode_s: float = 0.0  # decoding steps until this row ended
    first_token_s: float = 0.0  # since the call started
    finished_s: float = 0.0  # since the call started
    stopped: bool = False  # ended on an end-of-sequence token (not the length limit)


StepCallback = Callable[[list[Generated]], None]


@contextmanager
def _rows_through_adapters(runtime: ModelRuntime, names: list[str]):
    """Route each batch row through its adapter for the whole block.

    Rows of one adapter and base rows (the comparison's case: fine-tuned and hybrid share the
    adapter) go through ``_row_scaled``. Several adapters use PEFT's mixed-adapter batches:
    its public path (``adapter_names`` on every forward call) registers and removes a hook on
    every LoRA layer at each call (~15 ms per decoding step here, a third of the step); its
    context manager does the same registration once for all steps.
    """
    if runtime.peft is None:
        yield {}
        return
    used = set(names) - {BASE}
    if not used:
        with runtime.peft.disable_adapter():
            yield {}
        return
    if len(used) == 1:
        with _row_scaled(runtime, used.pop(), names) as ok:
            if ok:
                yield {}
                return
    enable = getattr(runtime.peft.base_model, "_enable_peft_forward_hooks", None)
    if enable is None:  # another PEFT version: the slower public path
        yield {"adapter_names": names}
        return
    with enable(adapter_names=names):
        yield {}


@contextmanager
def _row_scaled(runtime: ModelRuntime, key: str, names: list[str]):
    """One adapter for some rows, none for the others, without splitting the batch.

    Each LoRA layer adds ``lora_B(lora_A(x)) * scaling``; with ``scaling`` a per-row tensor
    (the adapter's scaling for its rows, 0 for base rows) every row gets exactly its own sum
    (x + 0.0 is x), and the layer runs PEFT's plain single-adapter path: no per-layer sub-batch
    gathers and scatters. That saves ~10 ms of a ~55 ms mixed decoding step here (hand-written
    because PEFT has no per-row scaling; its mixed path splits the batch at every layer).
    Yields False (nothing changed) for LoRA variants (DoRA etc.) that use scaling otherwise.
    """
    import torch
    from peft.tuners.lora import LoraLayer

    layers = [m for m in runtime.peft.modules() if isinstance(m, LoraLayer) and key in m.scaling]
    if not layers or any(key in getattr(m, "lora_variant", {}) for m in layers):
        yield False
        return
    # In the adapter's dtype (fp32 also over a bf16 or int8 base: PEFT keeps adapters in fp32), so that
    # lora_B(...) * scaling has the dtype and the rounding it has with PEFT's float scaling.
    dtype = layers[0].lora_B[key].weight.dtype
    rows = torch.tensor([n == key for n in names], dtype=dtype, device=runtime.device).view(-1, 1, 1)
    previous = runtime.peft.active_adapter
    saved = [(m, m.scaling[key]) for m in layers]
    try:
        runtime.peft.set_adapter(key)
        for m, scaling in saved:
            m.scaling[key] = rows * scaling
        yield True
    finally:
        for m, scaling in saved:
            m.scaling[key] = scaling
        runtime.peft.set_adapter(previous)


def _pick(logits, decoding: Decoding, generator, produced: list[int] | None = None, eos_ids=()):
    import torch

    if decoding.min_new_tokens and produced is not None:
        for b, n in enumerate(produced):
            if n < decoding.min_new_tokens:
                logits[b, list(eos_ids)] = float("-inf")
    if decoding.temperature <= 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits / decoding.temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def generate_batch(runtime: ModelRuntime, requests: list[Request], decoding: Decoding,
                   on_step: StepCallback | None = None) -> list[Generated]:
    """Generate an answer for every request in one batch; ``on_step`` sees the partial results
    after the prompt pass and after every token (for streaming)."""
    import torch
    from transformers import DynamicCache, StaticCache

    if not requests:
        return []
    results = [Generated() for _ in requests]
    model = runtime.peft.get_base_model() if runtime.peft is not None else runtime.model
    cache_kw = cache_kwarg(model)
    names = [r.adapter or BASE for r in requests]
    device = runtime.device
    generator = torch.Generator().manual_seed(decoding.seed)
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, r in enumerate(requests):
        groups.setdefault(tuple(r.prompt_ids), []).append(i)

    with runtime.lock, torch.inference_mode():
        start = time.perf_counter()
        caches, first = {}, {}
        for prompt, rows in groups.items():
            t0 = time.perf_counter()
            ids = torch.tensor([prompt] * len(rows), device=device)
            cache = DynamicCache()
            with _rows_through_adapters(runtime, [names[i] for i in rows]) as extra:
                out = model(input_ids=ids, use_cache=True, logits_to_keep=1, **{cache_kw: cache}, **extra)
            picked = _pick(out.logits[:, -1].float(), decoding, generator, [0] * len(rows), runtime.eos_ids).tolist()
            caches[prompt] = cache  # filled in place (reading out.past_key_values warns: renamed in transformers 5.24)
            elapsed = time.perf_counter() - t0
            for row, token in zip(rows, picked):
                first[row] = token
                results[row].prefill_s = elapsed
                results[row].first_token_s = time.perf_counter() - start

        # One cache for all rows: each prompt's cache left-padded to the longest prompt.
        order = [i for rows in groups.values() for i in rows]  # batch row -> request index
        lengths = [len(requests[i].prompt_ids) for i in order]
        longest = max(lengths)
        # Preallocated (static) cache: a growing one would copy every layer's keys and values
        # at every step (~15% of a step at RAG prompt lengths).
        merged = StaticCache(config=model.config, max_cache_len=longest + decoding.max_new_tokens + 1)
        n_layers = len(next(iter(caches.values())).layers)
        for layer in range(n_layers):
            keys, values = [], []
            for prompt, rows in groups.items():
                k, v = caches[prompt].layers[layer].keys, caches[prompt].layers[layer].values
                pad = longest - len(prompt)
                if pad:
                    k = torch.nn.functional.pad(k, (0, 0, pad, 0))
                    v = torch.nn.functional.pad(v, (0, 0, pad, 0))
                keys.append(k)
                values.append(v)
            merged.update(torch.cat(keys), torch.cat(values), layer)
        del caches
        # Slot i of the cache is position i of the padded batch; a row attends to its own
        # prompt slots and to every decoded slot (later slots are hidden by causality).
        mask = torch.zeros(len(order), longest + decoding.max_new_tokens + 1, dtype=torch.long, device=device)
        for b, n in enumerate(lengths):
            mask[b, longest - n:] = 1
        mask[:, longest:] = 1
        slot = longest
        positions = torch.tensor(lengths, device=device).unsqueeze(1)
        current = torch.tensor([first[i] for i in order], device=device).unsqueeze(1)
        done = [False] * len(order)

        def take(b: int, token: int) -> None:
            res = results[order[b]]
            if token in runtime.eos_ids:
                res.stopped, done[b] = True, True
            else:
                res.token_ids.append(token)
                if len(res.token_ids) >= decoding.max_new_tokens:
                    done[b] = True
            if done[b]:
                res.finished_s = time.perf_counter() - start

        for b in range(len(order)):
            take(b, first[order[b]])
        _publish(runtime, results, on_step)

        decode_started, decoded = time.perf_counter(), 0
        with _rows_through_adapters(runtime, [names[i] for i in order]) as extra:
            while not all(done):
                t0 = time.perf_counter()
                out = model(input_ids=current, attention_mask=mask, position_ids=positions,
                            cache_position=torch.tensor([slot], device=device),
                            use_cache=True, **{cache_kw: merged}, **extra)
                slot += 1
                produced = [len(results[i].token_ids) for i in order]
                picked = _pick(out.logits[:, -1].float(), decoding, generator, produced, runtime.eos_ids)
                step = time.perf_counter() - t0
                for b, token in enumerate(picked.tolist()):
                    if not done[b]:
                        results[order[b]].decode_s += step
                        decoded += 1
                        take(b, token)
                positions = positions + 1
                current = picked.unsqueeze(1)
                _publish(runtime, results, on_step)
        runtime.record_speed(slot - longest, decoded, time.perf_counter() - decode_started)
    return results


def _publish(runtime: ModelRuntime, results: list[Generated], on_step: StepCallback | None) -> None:
    for res in results:
        res.text = runtime.decode(res.token_ids)
    if on_step is not None:
        on_step(results)


def generate_sequential(runtime: ModelRuntime, requests: list[Request], decoding: Decoding) -> list[Generated]:
    """Plain ``generate``, one request after another (the naive baseline and test reference)."""
    import torch

    results = []
    with runtime.lock, torch.inference_mode():
        for r in requests:
            t0 = time.perf_counter()
            ids = torch.tensor([r.prompt_ids], device=runtime.device)
            kwargs = dict(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=decoding.max_new_tokens,
                          pad_token_id=runtime.tokenizer.pad_token_id, eos_token_id=sorted(runtime.eos_ids),
                          min_new_tokens=decoding.min_new_tokens or None)
            if decoding.temperature > 0:
                kwargs.update(do_sample=True, temperature=decoding.temperature, top_k=0, top_p=1.0)
            else:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            if r.adapter is None:
                if runtime.peft is None:
                    out = runtime.model.generate(**kwargs)
                else:
                    with runtime.peft.disable_adapter():
                        out = runtime.peft.generate(**kwargs)
            else:
                runtime.peft.set_adapter(r.adapter)
                out = runtime.peft.generate(**kwargs)
            new = out[0, ids.shape[1]:].tolist()
            stopped = bool(new) and new[-1] in runtime.eos_ids
            tokens = [t for t in new if t not in runtime.eos_ids]
            wall = time.perf_counter() - t0
            results.append(Generated(token_ids=tokens, text=runtime.decode(tokens), decode_s=wall, finished_s=wall, stopped=stopped))
    return results
