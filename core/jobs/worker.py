"""One job, in its own process: ``python -m core.jobs.worker --data-dir D --job ID``.

The supervisor starts it and watches its exit; this process writes progress, metrics and the
final status itself. Cancellation is a flag in the job record, checked at every step.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from core.config import load_settings
from core.jobs.store import JobStore


def run(store: JobStore, job_id: str) -> int:
    from core.finetune.recipe import StepReport
    from core.finetune.run import FinetuneSpec, run_finetune

    job = store.get(job_id)
    settings = load_settings(data_dir=store.root.parent)
    spec = FinetuneSpec.model_validate(job.config)
    store.log(job_id, f"started: {job.name}")

    def on_stage(text: str) -> None:
        store.update(job_id, message=f"{text}…")

    def on_step(r: StepReport) -> None:
        store.update(job_id, step=r.step, total_steps=r.total_steps, elapsed_s=r.elapsed_s, message="")
        store.append_metrics(job_id, {"step": r.step, "train_loss": r.train_loss, "eval_loss": r.eval_loss,
                                      "tokens": r.trained_tokens, "elapsed_s": r.elapsed_s, "lr": r.learning_rate})

    def should_stop() -> bool:
        return store.get(job_id).cancel_requested

    try:
        adapter = run_finetune(spec, settings, store.folder(job_id), on_step, should_stop, job_id=job_id,
                               on_stage=on_stage)
    except MemoryError:
        store.log(job_id, traceback.format_exc())
        store.finish(job_id, "failed", "failed: out of memory")
        return 1
    except Exception as exc:  # the job failed; the record says why, the log has the traceback
        store.log(job_id, traceback.format_exc())
        store.finish(job_id, "failed", f"failed: {exc}"[:500])
        return 1
    if adapter is None:
        store.log(job_id, "cancelled")
        store.finish(job_id, "cancelled", "Cancelled by the user.")
        return 0
    result = {"adapter_id": adapter.id, "adapter_name": adapter.name, "final_train_loss": adapter.lineage.final_train_loss,
              "final_eval_loss": adapter.lineage.final_eval_loss, "training_seconds": adapter.lineage.training_seconds}
    store.log(job_id, f"done: adapter {adapter.id}")
    store.finish(job_id, "done", f"Adapter '{adapter.name}' saved.", result)
    return 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--job", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    sys.exit(run(JobStore(Path(args.data_dir)), args.job))


if __name__ == "__main__":
    main()
