"""A training job in a job worker process (``core.jobs.kinds``: the "finetune" kind), and in the
command line's own process (``python -m core.finetune``): the job's spec read from its record,
``run_finetune`` called with the job store's progress, metrics and cancel flag, the final status
written to the record.
"""

from __future__ import annotations

import traceback
from typing import Callable

from core.config import apply_model_choice, load_settings
from core.finetune import checkpoints
from core.finetune.recipe import StepReport
from core.finetune.run import FinetuneSpec, run_finetune
from core.jobs.store import JobStore


def run(store: JobStore, job_id: str, echo: Callable[[StepReport], None] | None = None, cancellable: bool = True) -> int:
    """Run the claimed training job ``job_id`` in this process and record how it ended; 0 if it
    finished or was cancelled. ``echo`` also sees each step (the command line prints it); a run of
    several processes is not ``cancellable`` (one rank stopping alone would leave the others waiting)."""
    job = store.get(job_id)
    settings = apply_model_choice(load_settings(data_dir=store.root.parent))  # the device picked; the model is in the spec
    spec = FinetuneSpec.model_validate(job.config)
    resumed_from = max((step for step, _ in checkpoints.complete(store.folder(job_id) / "checkpoints")), default=0)
    store.keep_metrics_up_to(job_id, resumed_from)  # the steps after the checkpoint are done again
    store.log(job_id, f"started: {job.name}" + (f" (resuming after step {resumed_from})" if resumed_from else ""))

    def on_stage(text: str) -> None:
        store.update(job_id, message=f"{text}…")

    def on_step(r: StepReport) -> None:
        if echo:
            echo(r)
        store.update(job_id, step=r.step, total_steps=r.total_steps, elapsed_s=r.elapsed_s, message="")
        store.append_metrics(job_id, {"step": r.step, "train_loss": r.train_loss, "eval_loss": r.eval_loss,
                                      "tokens": r.trained_tokens, "elapsed_s": r.elapsed_s, "lr": r.learning_rate})

    def should_stop() -> bool:
        return cancellable and store.get(job_id).cancel_requested

    try:
        adapter = run_finetune(spec, settings, store.folder(job_id), on_step, should_stop, job_id=job_id,
                               on_stage=on_stage)
    except MemoryError:
        store.log(job_id, traceback.format_exc())
        store.finish(job_id, "failed", "failed: out of memory")
        return 1
    except Exception as exc:  # the job failed; the record says why, the log has the traceback
        store.fail(job_id, exc)
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
