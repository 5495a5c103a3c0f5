"""The app answering while a training job runs: background jobs below the app's CPU priority against
jobs at the same priority.

Run: .venv/bin/python bench/contention.py [--tokens 48] [--window 40]   (the README's figures' sizes)
``--smoke``: 4 tokens, one answer beside each job, without waiting for its first step (seconds after
loading; tests/test_bench_smoke.py).
This process plays the app: it loads the model and answers one 4-row batch (the four panes of a
question: ``generate_batch``, greedy, exactly --tokens new tokens each) again and again. The job is
the product's own: a LoRA training of the demo dataset queued with ``FinetuneService.start``, run by
the job supervisor in its worker process, at the priority ``jobs.nice`` gives it. Three phases,
each a fresh workspace: the app alone; beside a job at ``jobs.nice=0`` (the app's own priority, the
baseline); beside a job at the configured ``jobs.nice``. In each job phase the app's answers are
timed from the job's first training step for --window seconds, and the job's steps in that window
are counted (its progress is in the job record), so both sides' speed is reported.
Last line: ratio=<the app's tok/s beside a lower-priority job divided by its tok/s beside a
same-priority job>  (target >= 2: on 2 cores the same-priority job cut the app about 5-fold)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import core  # noqa: E402,F401  (sets the MKL code path before torch loads)
from core.config import load_settings  # noqa: E402

SMOKE = {"tokens": 4, "window": 0.0, "no_wait": True}
QUESTION = "How many days do customers have to return an unopened product?"


def answer_speed(runtime, tokens: int, until) -> tuple[float, int]:
    """Answer the four-row batch until ``until()`` is true (at least once); (tok/s, answers)."""
    from core.models.generation import Decoding, Request, generate_batch

    ids = runtime.tokenizer.apply_chat_template([{"role": "user", "content": QUESTION}], add_generation_prompt=True,
                                                return_dict=True)["input_ids"]
    decoding = Decoding(max_new_tokens=tokens, min_new_tokens=tokens)
    made, started = 0, time.perf_counter()
    while True:
        made += sum(len(r.token_ids) for r in generate_batch(runtime, [Request(list(ids))] * 4, decoding))
        if until():
            return made / (time.perf_counter() - started), made // (4 * tokens)


def beside_a_job(runtime, nice: int, tokens: int, window: float, wait: bool = True) -> dict:
    """Queue a training job at ``nice`` in a fresh workspace; time the app's answers from its first
    step for ``window`` seconds; the job's steps in that window."""
    from core.finetune.datasets import DatasetStore
    from core.finetune.recipe import TrainingConfig
    from core.finetune.run import FinetuneSpec
    from core.finetune.service import FinetuneService
    from core.jobs.supervisor import stop_recorded
    from core.seed import demo_pairs

    os.environ["LAB_JOBS__NICE"] = str(nice)  # the supervisor reads it when it starts
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(data_dir=Path(folder), demo_seed=False)
        ft = FinetuneService(settings)
        info = DatasetStore(settings.data_dir / "datasets").save("demo", demo_pairs("train"), demo_pairs("test"))
        job = ft.start(FinetuneSpec(adapter_name=f"nice {nice}", dataset_id=info.id, checkpoint_every=0,
                                    training=TrainingConfig(max_steps=10_000)))
        try:
            while (seen := ft.jobs.get(job.id)).step < 1 and wait:
                if seen.status not in ("queued", "running"):
                    raise SystemExit(f"the training job ended before its first step: {seen.message}")
                time.sleep(0.2)
            first_step, started = seen.step, time.monotonic()
            speed, answers = answer_speed(runtime, tokens, lambda: time.monotonic() - started >= window)
            elapsed = time.monotonic() - started
            steps = ft.jobs.get(job.id).step - first_step
        finally:
            ft.cancel(job.id)
            stop_recorded(ft.jobs)
    return {"tok_s": speed, "answers": answers, "job_steps_per_min": 60 * steps / elapsed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=48)
    parser.add_argument("--window", type=float, default=40.0, help="seconds of answering beside each job")
    parser.add_argument("--no-wait", action="store_true", help="answer before the job's first step (smoke runs)")
    parser.add_argument("--smoke", action="store_true", help="seconds, for the test suite: the figures mean nothing")
    args = parser.parse_args()
    if args.smoke:
        vars(args).update(SMOKE)
    from core.models.runtime import ModelRuntime

    configured = load_settings().jobs.nice
    runtime = ModelRuntime(load_settings())
    alone, _ = answer_speed(runtime, args.tokens, lambda: True)
    alone = max(alone, answer_speed(runtime, args.tokens, lambda: True)[0])  # the first answer warms up
    print(f"the app alone: {alone:.1f} tok/s (4 rows x {args.tokens} tokens)")
    same = beside_a_job(runtime, 0, args.tokens, args.window, not args.no_wait)
    lower = beside_a_job(runtime, configured, args.tokens, args.window, not args.no_wait)
    for name, r in (("beside a job at the app's priority (nice 0)", same), (f"beside a job at nice {configured}", lower)):
        print(f"{name}: the app {r['tok_s']:.1f} tok/s ({r['answers']} answers), "
              f"the job {r['job_steps_per_min']:.1f} steps/min")
    print(f"ratio={lower['tok_s'] / same['tok_s']:.2f}")


if __name__ == "__main__":
    main()
