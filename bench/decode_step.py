"""Where a decoding step's time goes, and whether torch.compile pays for it on this machine.

Run: .venv/bin/python bench/decode_step.py [--rows 4] [--prompt 550] [--tokens 48] [--no-compile]
``--smoke``: a tiny shape built in code (2 layers, hidden 64), 2 rows, 8 tokens: seconds, and its compilation
(tests/test_bench_smoke.py runs it; a C++ compiler is needed for the compiled half, as torch.compile on a CPU needs).

The bundled model, greedy, --rows rows decoding together after a --prompt-token prompt over a static cache sized as
the engine sizes it (prompt + tokens + 1 slots): the engine's decoding step without its bookkeeping.
1. Eager: the median step, and a torch.profiler table of 10 steps in three parts: matrix products (the weights
   read once a step: at these sizes a step is bound by memory bandwidth, so the bytes of weights divided by the
   matrix-product time is printed as GB/s), attention over the cache, and everything else (per-layer overhead:
   the part a compiler can fuse away).
2. Compiled: ``torch.compile(model.forward, dynamic=False)`` over the same cache: seconds to compile (once per
   process, and per cache size: the engine sizes its cache per question), the median step, and whether every
   greedy token equals the eager path's.
Last line: ratio=<eager median step over compiled median step>  (> 1: compilation pays; issue 25 asked for the
measured lever before choosing one)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core  # noqa: E402,F401  (sets the MKL code path before torch loads)

TINY = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64, "intermediate_size": 128,
        "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 1000,
        "max_position_embeddings": 2048, "tie_word_embeddings": True, "bos_token_id": 1, "eos_token_id": 2}
SMOKE = {"rows": 2, "prompt": 16, "tokens": 8}


def load(smoke: bool):
    import torch

    if smoke:
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        return LlamaForCausalLM(LlamaConfig(**{k: v for k, v in TINY.items() if k not in ("architectures", "model_type")})).eval()
    from core.config import load_settings
    from core.models.loader import load_base_model

    return load_base_model(load_settings())[0].eval()


def decode(model, forward, rows: int, prompt: int, tokens: int, profile: bool = False):
    """Greedy steps after one prompt pass: (step seconds, tokens per step, profiler or None)."""
    import torch
    from transformers import StaticCache

    from core.models.generation import cache_kwarg

    kw = cache_kwarg(model)
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(3, model.config.vocab_size, (rows, prompt), generator=generator)
    slots = prompt + tokens + 1
    cache = StaticCache(config=model.config, max_cache_len=slots)
    mask = torch.ones(rows, slots, dtype=torch.long)
    times, picked, prof = [], [], None
    with torch.inference_mode():
        out = model(input_ids=ids, use_cache=True, logits_to_keep=1, **{kw: cache},
                    cache_position=torch.arange(prompt))
        current = out.logits[:, -1].argmax(-1, keepdim=True)
        for slot in range(prompt, prompt + tokens):
            started = time.perf_counter()
            out = forward(input_ids=current, attention_mask=mask, position_ids=torch.full((rows, 1), slot),
                          cache_position=torch.tensor([slot]), use_cache=True, **{kw: cache})
            current = out.logits[:, -1].argmax(-1, keepdim=True)
            times.append(time.perf_counter() - started)
            picked.append(current[:, 0].tolist())
        if profile:
            from torch.profiler import ProfilerActivity
            from torch.profiler import profile as profiler

            cache = StaticCache(config=model.config, max_cache_len=slots)
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1, **{kw: cache},
                        cache_position=torch.arange(prompt))
            current = out.logits[:, -1].argmax(-1, keepdim=True)
            with profiler(activities=[ProfilerActivity.CPU]) as prof:
                for slot in range(prompt, prompt + min(10, tokens)):
                    out = forward(input_ids=current, attention_mask=mask, position_ids=torch.full((rows, 1), slot),
                                  cache_position=torch.tensor([slot]), use_cache=True, **{kw: cache})
                    current = out.logits[:, -1].argmax(-1, keepdim=True)
    return times, picked, prof


def median(values: list[float]) -> float:
    steady = sorted(values[2:] or values)  # the first steps pay one-off costs (allocation, compilation)
    return steady[len(steady) // 2]


def split(prof) -> dict[str, float]:
    """Self CPU seconds of the profiled steps: matrix products, attention, the rest."""
    parts = {"matrix products": 0.0, "attention": 0.0, "the rest": 0.0}
    for event in prof.key_averages():
        name, seconds = event.key, event.self_cpu_time_total / 1e6
        if name in ("aten::mm", "aten::addmm", "aten::bmm") or "weight_int8pack_mm" in name:
            parts["matrix products"] += seconds
        elif "scaled_dot_product" in name or "flash_attention" in name:
            parts["attention"] += seconds
        else:
            parts["the rest"] += seconds
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=4, help="rows decoding together (the four panes)")
    parser.add_argument("--prompt", type=int, default=550, help="prompt tokens (a RAG prompt of the demo)")
    parser.add_argument("--tokens", type=int, default=48, help="greedy steps timed")
    parser.add_argument("--no-compile", action="store_true", help="the eager half only")
    parser.add_argument("--smoke", action="store_true", help=f"a tiny shape built in code, {SMOKE}")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()
    if args.rows < 1 or args.prompt < 1 or args.tokens < 3:
        parser.error("--rows and --prompt must be at least 1, --tokens at least 3")

    import torch

    model = load(args.smoke)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    print(f"{'tiny shape' if args.smoke else 'bundled model'}: {weights / 1e6:.0f} MB of weights, "
          f"{model.config.num_hidden_layers} layers, torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"{args.rows} rows after a {args.prompt}-token prompt, {args.tokens} steps")

    times, eager_tokens, prof = decode(model, model.forward, args.rows, args.prompt, args.tokens, profile=True)
    eager = median(times)
    parts = split(prof)
    steps = min(10, args.tokens)
    print(f"eager: {eager * 1000:.1f} ms a step, {args.rows / eager:.1f} tok/s over the rows")
    for name, seconds in parts.items():
        print(f"  {name:16} {seconds / steps * 1000:6.1f} ms a step ({seconds / max(sum(parts.values()), 1e-9):.0%})")
    if parts["matrix products"]:
        print(f"  weights read by the matrix products: {weights / (parts['matrix products'] / steps) / 1e9:.1f} GB/s")
    if args.no_compile:
        print("ratio=n/a (--no-compile)")
        return

    compiled = torch.compile(model.forward, dynamic=False)
    started = time.perf_counter()
    times, compiled_tokens, _ = decode(model, compiled, args.rows, args.prompt, args.tokens)
    total = time.perf_counter() - started
    fast = median(times)
    same = sum(a == b for a, b in zip(eager_tokens, compiled_tokens))
    print(f"compiled: {fast * 1000:.1f} ms a step, {args.rows / fast:.1f} tok/s over the rows; first step (compilation) "
          f"{times[0]:.1f} s, whole run {total:.1f} s; greedy tokens equal to eager at {same} of {len(eager_tokens)} steps")
    print(f"ratio={eager / fast:.2f}")


if __name__ == "__main__":
    main()
