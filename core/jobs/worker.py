"""One job, in its own process: ``python -m core.jobs.worker --data-dir D --job ID``.

The supervisor starts it and watches its exit; this process writes progress, metrics and the
final status itself. Cancellation is a flag in the job record, checked at every step. What runs
depends on the job's kind (``core.jobs.kinds``); training is ``run`` below.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from core.config import Settings, apply_model_choice, load_settings
from core.jobs.kinds import KINDS
from core.jobs.store import JobStore

if TYPE_CHECKING:
    from core.finetune.recipe import StepReport

SETTINGS_FILE = "settings.json"


def write_settings(settings: Settings, job_dir: Path) -> None:
    """The settings a queued job runs with, in its folder (the Qdrant API key stays in the environment)."""
    data = settings.model_dump(mode="json", exclude={"qdrant": {"api_key": True}, "knowledge_dir": True})
    (job_dir / SETTINGS_FILE).write_text(json.dumps(data, indent=1), encoding="utf-8")


def read_settings(job_dir: Path) -> Settings:
    return load_settings(**json.loads((job_dir / SETTINGS_FILE).read_text(encoding="utf-8")))


def run(store: JobStore, job_id: str, echo: Callable[[StepReport], None] | None = None, cancellable: bool = True) -> int:
    """Run the claimed training job ``job_id`` in this process and record how it ended; 0 if it
    finished or was cancelled. ``echo`` also sees each step (the command line prints it); a run of
    several processes is not ``cancellable`` (one rank stopping alone would leave the others waiting)."""
    from core.finetune import checkpoints
    from core.finetune.run import FinetuneSpec, run_finetune

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--job", required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    store = JobStore(Path(args.data_dir))
    module, function = KINDS[store.get(args.job).kind].run.split(":")
    sys.exit(getattr(importlib.import_module(module), function)(store, args.job))


if __name__ == "__main__":
    main()
