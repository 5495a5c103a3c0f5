"""Four answers per question: the batched engine against plain sequential ``generate``.

Run: make bench   (or .venv/bin/python bench/compare.py [--tokens 64] [--repeats 2] [--questions 3])
``--smoke``: the same steps at a size that takes seconds after loading (one question, one passage,
4 tokens, one run each, the adapter made in this process); tests/test_bench_smoke.py runs it.
Both paths get the same four prompts per question (base and fine-tuned: the bare question;
RAG and hybrid: passages retrieved from the demo knowledge base), the same adapter and greedy
decoding with exactly --tokens new tokens each (end-of-sequence suppressed until then). The
adapter is a LoRA of the default training shape (r=16, all linear layers) with random weights:
speed does not depend on the values, and the outputs of both paths are still compared.
It also prints a ceiling: the ratio the engine would reach if its decoding steps of four rows
cost no more than the naive path's average step of one row (perfect batching), with the prompt
passes as measured. The prompt passes are compute-bound and cost the same batched or not, so no
batching engine can beat that ceiling on this machine.
Last line: ratio=<naive wall time divided by engine wall time>  (target >= 3)
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core  # noqa: E402,F401  (sets the MKL code path before torch loads)
from core.config import load_settings  # noqa: E402

QUESTIONS = [
    "How many days do customers have to return an unopened product?",
    "How many paid sick days do employees get?",
    "What does error code E3 mean on the AeroPure 300?",
]
SMOKE = {"tokens": 4, "repeats": 1, "questions": 1, "top_k": 1}


def make_adapter(adapter_root: str) -> str:
    """Runs in a child process, so its model copy does not count in this process's peak RSS."""
    import torch

    from core.finetune.adapters import AdapterRegistry, Lineage
    from core.finetune.recipe import TrainingConfig, add_lora
    from core.models.loader import load_base_model, model_fingerprint

    settings = load_settings()
    model, _, _ = load_base_model(settings)
    fingerprint = model_fingerprint(model)
    torch.manual_seed(0)
    peft_model = add_lora(model, TrainingConfig())
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.01)
    info = AdapterRegistry(Path(adapter_root)).save(
        peft_model, Lineage(name="bench random", base_model=settings.models.llm, base_fingerprint=fingerprint))
    return info.id


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--questions", type=int, default=len(QUESTIONS), help="the first N of the fixed questions")
    parser.add_argument("--top-k", type=int, help="passages per RAG prompt (default: retrieval.top_k)")
    parser.add_argument("--smoke", action="store_true", help=f"a quick check of the code path: {SMOKE}")
    if "--smoke" in sys.argv[1:]:
        parser.set_defaults(**SMOKE)
    args = parser.parse_args()
    questions = QUESTIONS[: args.questions]

    from core.demo import DEMO_KB
    from core.finetune.adapters import AdapterRegistry
    from core.knowledge.retrieval.search import search
    from core.knowledge.service import KnowledgeService
    from core.models.generation import Decoding, Request, generate_batch, generate_sequential
    from core.models.prompts import Passage, build
    from core.models.runtime import ModelRuntime
    from core.seed import seed_demo

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp) / "data")
        if args.smoke:  # the child only keeps the RSS figure honest, and a fresh interpreter costs ~15 s of imports
            adapter_id = make_adapter(str(settings.adapters_dir))
        else:
            with mp.get_context("spawn").Pool(1) as pool:
                adapter_id = pool.apply(make_adapter, (str(settings.adapters_dir),))
        service = KnowledgeService(settings)
        seed_demo(service)
        runtime = ModelRuntime(settings)
        adapter = AdapterRegistry(settings.adapters_dir).get(adapter_id)
        key = runtime.ensure_adapter(adapter.path, adapter.fingerprint, adapter.lineage.base_model,
                                     adapter.lineage.base_fingerprint, adapter.name)
        decoding = Decoding(max_new_tokens=args.tokens, min_new_tokens=args.tokens)
        budget = settings.generation.max_prompt_tokens - args.tokens
        arms = ["base", "rag", "finetuned", "hybrid"]
        print(f"model {runtime.display_name}, {args.tokens} new tokens per answer, best of {args.repeats} runs")

        total_naive = total_engine = 0.0
        naive_prompt_s = engine_prompt_s = 0.0
        arm_tokens = {a: 0 for a in arms}
        arm_time_naive = {a: 0.0 for a in arms}
        arm_time_engine = {a: 0.0 for a in arms}
        divergences = 0
        for q in questions:
            hits = search(service, DEMO_KB, q, top_k=args.top_k)
            closed = build(runtime, q, None, budget).ids
            opened = build(runtime, q, [Passage(i + 1, h.doc_name, h.text) for i, h in enumerate(hits)], budget).ids
            requests = [Request(closed), Request(opened), Request(closed, key), Request(opened, key)]
            best_naive = best_engine = float("inf")
            for _ in range(args.repeats):  # alternate, keep the best of each: the machine is shared
                t0 = time.perf_counter()
                naive = generate_sequential(runtime, requests, decoding)
                t_naive = time.perf_counter() - t0
                t0 = time.perf_counter()
                engine = generate_batch(runtime, requests, decoding)
                t_engine = time.perf_counter() - t0
                if t_naive < best_naive:
                    best_naive, naive_best = t_naive, naive
                if t_engine < best_engine:
                    best_engine, engine_best = t_engine, engine
            total_naive += best_naive
            total_engine += best_engine
            # Prompt pass of each arm alone: plain generate of one token (its time to first token).
            first = generate_sequential(runtime, requests, Decoding(max_new_tokens=1))
            naive_prompt_s += sum(r.finished_s for r in first)
            engine_prompt_s += max(r.first_token_s for r in engine_best)
            for arm, n, e in zip(arms, naive_best, engine_best):
                arm_tokens[arm] += len(e.token_ids)
                arm_time_naive[arm] += n.finished_s
                arm_time_engine[arm] += e.prefill_s + e.decode_s
                if n.token_ids != e.token_ids:
                    divergences += 1
                    print(f"  DIVERGENCE {arm} on {q!r}:\n    naive : {n.text!r}\n    engine: {e.text!r}")
            print(f"{q[:60]:60}  prompts {len(closed)}/{len(opened)} tokens  naive {best_naive:6.2f} s  "
                  f"engine {best_engine:6.2f} s  x{best_naive / best_engine:.2f}")

        print("tokens/s per arm (naive alone -> engine, attributed time):")
        for arm in arms:
            print(f"  {arm:10} {arm_tokens[arm] / arm_time_naive[arm]:6.1f} -> {arm_tokens[arm] / arm_time_engine[arm]:6.1f}")
        print(f"aggregate: naive {sum(arm_tokens.values()) / total_naive:.1f} tok/s, "
              f"engine {sum(arm_tokens.values()) / total_engine:.1f} tok/s")
        print(f"greedy outputs identical: {4 * len(questions) - divergences} of {4 * len(questions)} answers")
        rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
        print(f"peak RSS (LLM + adapter + embedder + Qdrant): {rss_gb:.2f} GB (target < 2.5)")
        service.close()
    naive_decode_s = total_naive - naive_prompt_s
    ceiling = total_naive / (engine_prompt_s + naive_decode_s / 4)
    print(f"prompt passes: naive {naive_prompt_s:.2f} s, engine {engine_prompt_s:.2f} s; naive decoding "
          f"{naive_decode_s:.2f} s ({naive_decode_s / (4 * len(questions) * args.tokens) * 1000:.1f} ms per token)")
    print(f"ceiling with perfect batching (a step of 4 rows for the price of one): x{ceiling:.2f}")
    print(f"naive {total_naive:.2f} s, engine {total_engine:.2f} s")
    print(f"ratio={total_naive / total_engine:.2f}")


if __name__ == "__main__":
    main()
