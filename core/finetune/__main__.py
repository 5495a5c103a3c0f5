"""Train a LoRA adapter headless: ``python -m core.finetune --dataset ID --name NAME [options]``.

Several processes (CPU or GPUs): ``torchrun --nproc_per_node N -m core.finetune --dataset ID ...``
or ``accelerate launch --num_processes N -m core.finetune ...``: data-parallel, see
core/finetune/distributed.py.

It runs through the same job records as the app's background jobs, in this process: a training
job (listed on the Fine-tune page's Jobs tab) with its checkpoints and metrics in the data
folder's ``jobs/<id>/``, printing one line per step. A run that is stopped (Ctrl-C, killed)
resumes from its last checkpoint with ``--resume JOB`` (or the page's Resume button).
``python -m core.finetune export ADAPTER --format peft|merged --out PATH`` exports a saved adapter
(name or id): a zip when PATH ends in ``.zip``, else a folder (core/finetune/export.py).
``--jsonl FILE`` imports a question/answer file as a new dataset first; ``--list`` shows the
saved datasets, adapters and jobs. Settings (data folder, model) come from the usual ``LAB_*``
environment variables or settings file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import core  # noqa: F401  (sets the MKL code path before torch loads)
from core.config import apply_model_choice, load_settings
from core.errors import LabError
from core.finetune.recipe import StepReport, TrainingConfig
from core.finetune.run import FinetuneSpec, run_finetune


def _print_step(r: StepReport) -> None:
    print(f"step {r.step}/{r.total_steps}  loss {r.train_loss:.4f}"
          + (f"  held-out {r.eval_loss:.4f}" if r.eval_loss is not None else "")
          + f"  {r.trained_tokens} tokens trained  {r.elapsed_s:.1f} s", flush=True)


def _parser() -> tuple[argparse.ArgumentParser, TrainingConfig]:
    defaults = TrainingConfig()
    p = argparse.ArgumentParser(prog="python -m core.finetune", description=__doc__.splitlines()[0])
    p.add_argument("--dataset", help="id of a saved dataset (see --list)")
    p.add_argument("--jsonl", type=Path, help="import this question/answer JSONL file as a dataset first")
    p.add_argument("--name", help="name of the adapter to create")
    p.add_argument("--resume", metavar="JOB", help="continue a stopped training job from its last checkpoint")
    p.add_argument("--list", action="store_true", help="list saved datasets, adapters and jobs, then exit")
    p.add_argument("--mode", choices=["qa", "cpt"], default="qa")
    for field, value in defaults.model_dump().items():
        if field == "target_modules":
            p.add_argument("--target-modules", default=value, help="'all-linear' or comma-separated module names")
        elif field == "max_steps":
            p.add_argument("--max-steps", type=int, default=None)
        else:
            p.add_argument(f"--{field.replace('_', '-')}", type=type(value), default=value)
    p.add_argument("--checkpoint-every", type=int, default=10)
    return p, defaults


def export_main(argv: list[str]) -> int:
    """``export ADAPTER --format peft|merged --out PATH``: one adapter out of the lab, with its lab_export.json."""
    from core.finetune.export import FORMATS, GGUF_NOTE, export_adapter
    from core.finetune.service import FinetuneService

    p = argparse.ArgumentParser(prog="python -m core.finetune export", description=export_main.__doc__,
                                epilog=GGUF_NOTE)
    p.add_argument("adapter", help="name or id of a saved adapter (see --list)")
    p.add_argument("--format", choices=list(FORMATS), default="peft")
    p.add_argument("--out", type=Path, help="a .zip file, or a folder to create (default: ADAPTER_ID-FORMAT.zip here)")
    args = p.parse_args(argv)
    settings = apply_model_choice(load_settings())
    try:
        info = FinetuneService(settings).adapters.by_name(args.adapter)
        out = export_adapter(info, args.format, settings, args.out or Path(f"{info.id}-{args.format}.zip"))
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"exported adapter {info.id} ({info.fingerprint}) as {args.format} to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["export"]:
        return export_main(argv[1:])
    p, defaults = _parser()
    args = p.parse_args(argv)

    from core.finetune import distributed, worker
    from core.finetune.service import FinetuneService

    settings = apply_model_choice(load_settings())  # the model picked on the Models page, if any
    ft = FinetuneService(settings)
    if args.list:
        for d in ft.datasets.list():
            print(f"dataset  {d.id:40} {d.train_count:5} train {d.test_count:4} test  {d.name}")
        for a in ft.adapters.list():
            print(f"adapter  {a.id:40} {a.fingerprint}  {a.name}")
        for j in ft.list_jobs():
            print(f"job      {j.id:40} {j.status:11} step {j.step}/{j.total_steps}  {j.name}")
        return 0
    world = distributed.setup() if int(os.environ.get("WORLD_SIZE", "1")) > 1 else distributed.World()
    job_id = ""
    if world.is_main:
        try:
            job_id = _record(ft, args, defaults, world).id
        except LabError as exc:
            print(f"error: {exc}", file=sys.stderr)
        else:
            print(f"job {job_id}: if it stops, resume with  python -m core.finetune --resume {job_id}", flush=True)
    job_id = distributed.from_main(job_id, world)  # "" on every rank when rank 0 could not record the job
    if not job_id:
        return 2
    try:
        if not world.is_main:  # the other ranks train alongside; rank 0 records everything
            spec = FinetuneSpec.model_validate(ft.jobs.get(job_id).config)
            run_finetune(spec, settings, ft.jobs.folder(job_id))
            return 0
        code = worker.run(ft.jobs, job_id, echo=_print_step, cancellable=world.size == 1)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        if job_id and world.is_main:
            ft.jobs.finish(job_id, "interrupted", "Interrupted: its process stopped. Resume continues from the last checkpoint.")
        print(f"stopped; resume with  python -m core.finetune --resume {job_id}", file=sys.stderr)
        return 130
    job = ft.jobs.get(job_id)
    if job.status == "done":
        adapter = ft.adapters.get(job.result["adapter_id"])
        print(f"saved adapter {adapter.id} ({adapter.fingerprint}) to {adapter.path}")
    else:
        print(f"{job.status}: {job.message}", file=sys.stderr)
    return code


def _record(ft, args, defaults: TrainingConfig, world):
    """The job this run is: a stopped one taken back (``--resume``), or a new one, running in this process."""
    if args.resume:
        ft.jobs.requeue(args.resume)
        return ft.jobs.claim(args.resume, os.getpid())
    if args.jsonl and world.size > 1:
        raise LabError("With several processes, import the file first (--jsonl, one process), then pass --dataset.")
    if args.jsonl:
        from core.finetune import datasets as ds

        parsed = ds.parse_jsonl(args.jsonl.read_bytes())
        for problem in parsed.problems:
            print(f"skipped row {problem.row}: {problem.message}", file=sys.stderr)
        args.dataset = ft.save_pairs(args.jsonl.stem, parsed.pairs, None, None, "upload").id
        print(f"imported {args.jsonl} as dataset {args.dataset}")
    if not args.dataset or not args.name:
        raise LabError("--dataset (or --jsonl) and --name are required (or --resume JOB).")
    targets = args.target_modules if args.target_modules == "all-linear" else args.target_modules.split(",")
    training = TrainingConfig(**{k: getattr(args, k) for k in defaults.model_dump() if k != "target_modules"},
                              target_modules=targets)
    spec = FinetuneSpec(adapter_name=args.name, dataset_id=args.dataset, mode=args.mode, training=training,
                        checkpoint_every=args.checkpoint_every)
    return ft.submit(spec, run_by=os.getpid())


if __name__ == "__main__":
    sys.exit(main())
