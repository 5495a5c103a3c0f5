"""Train a LoRA adapter headless: ``python -m core.finetune --dataset ID --name NAME [options]``.

Several processes (CPU or GPUs): ``torchrun --nproc_per_node N -m core.finetune --dataset ID ...``
or ``accelerate launch --num_processes N -m core.finetune ...``: data-parallel, see
core/finetune/distributed.py.

The same entry point the background jobs use (core.finetune.run.run_finetune), in this
process, printing one line per step. ``--jsonl FILE`` imports a question/answer file as a new
dataset first; ``--list`` shows the saved datasets. Settings (data folder, model) come from
the usual ``LAB_*`` environment variables or settings file.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import core  # noqa: F401  (sets the MKL code path before torch loads)
from core.config import apply_model_choice, load_settings
from core.errors import LabError
from core.finetune.recipe import TrainingConfig
from core.finetune.run import FinetuneSpec, run_finetune


def main(argv: list[str] | None = None) -> int:
    defaults = TrainingConfig()
    p = argparse.ArgumentParser(prog="python -m core.finetune", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", help="id of a saved dataset (see --list)")
    p.add_argument("--jsonl", type=Path, help="import this question/answer JSONL file as a dataset first")
    p.add_argument("--name", help="name of the adapter to create")
    p.add_argument("--list", action="store_true", help="list saved datasets and adapters, then exit")
    p.add_argument("--mode", choices=["qa", "cpt"], default="qa")
    for field, value in defaults.model_dump().items():
        if field == "target_modules":
            p.add_argument("--target-modules", default=value, help="'all-linear' or comma-separated module names")
        elif field == "max_steps":
            p.add_argument("--max-steps", type=int, default=None)
        else:
            p.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value)
    p.add_argument("--checkpoint-every", type=int, default=10)
    args = p.parse_args(argv)

    from core.finetune.service import FinetuneService

    settings = apply_model_choice(load_settings())  # the model picked on the Models page, if any
    ft = FinetuneService(settings)
    if args.list:
        for d in ft.datasets.list():
            print(f"dataset  {d.id:40} {d.train_count:5} train {d.test_count:4} test  {d.name}")
        for a in ft.adapters.list():
            print(f"adapter  {a.id:40} {a.fingerprint}  {a.name}")
        return 0
    import os

    several = int(os.environ.get("WORLD_SIZE", "1")) > 1
    try:
        if args.jsonl and several:
            raise LabError("With several processes, import the file first (--jsonl, one process), then pass --dataset.")
        if args.jsonl:
            from core.finetune import datasets as ds

            parsed = ds.parse_jsonl(args.jsonl.read_bytes())
            for problem in parsed.problems:
                print(f"skipped row {problem.row}: {problem.message}", file=sys.stderr)
            args.dataset = ft.save_pairs(args.jsonl.stem, parsed.pairs, None, None, "upload").id
            print(f"imported {args.jsonl} as dataset {args.dataset}")
        if not args.dataset or not args.name:
            p.error("--dataset (or --jsonl) and --name are required")
        targets = args.target_modules if args.target_modules == "all-linear" else args.target_modules.split(",")
        training = TrainingConfig(**{k: getattr(args, k) for k in defaults.model_dump() if k != "target_modules"},
                                  target_modules=targets)
        spec = FinetuneSpec(adapter_name=args.name, dataset_id=args.dataset, mode=args.mode, training=training,
                            checkpoint_every=args.checkpoint_every)
        ft.datasets.get(spec.dataset_id)
        with tempfile.TemporaryDirectory(prefix="finetune-") as job_dir:
            adapter = run_finetune(spec, settings, Path(job_dir), on_step=lambda r: print(
                f"step {r.step}/{r.total_steps}  loss {r.train_loss:.4f}"
                + (f"  held-out {r.eval_loss:.4f}" if r.eval_loss is not None else "")
                + f"  {r.trained_tokens} tokens trained  {r.elapsed_s:.1f} s", flush=True))
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if adapter is not None:  # None on the other ranks of a multi-process run
        print(f"saved adapter {adapter.id} ({adapter.fingerprint}) to {adapter.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
