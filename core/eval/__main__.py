"""Evaluate the arms headless: ``python -m core.eval [--arms base,rag,finetuned,hybrid] [--adapter ID]``.

Runs the demo test set (or ``--test-set FILE``, JSONL with question, answer and optional
source, key_facts, answerable) against the active knowledge base and prints per-arm metrics
with bootstrap 95% intervals and the recommendation. ``--out FILE`` writes the whole run as
JSON, ``--report FILE`` the self-contained HTML report. The run is a job like one started on the
Evaluate page (a job record, run in this process; the saved run is listed on the page).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import core  # noqa: F401  (sets the MKL code path before torch loads)
from core.config import apply_model_choice, load_settings
from core.errors import LabError


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m core.eval", description=__doc__.splitlines()[0])
    p.add_argument("--arms", default="base,rag,finetuned,hybrid,oracle")
    p.add_argument("--adapter", help="adapter id (or name) for the fine-tuned and hybrid arms")
    p.add_argument("--kb", help="knowledge base (default: the active one, seeding the demo if the workspace is empty)")
    p.add_argument("--kb-version", help="an older recorded version of the knowledge base (its id or a prefix of it)")
    p.add_argument("--test-set", type=Path)
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--top-k", type=int)
    p.add_argument("--require-support", action=argparse.BooleanOptionalAction, default=None,
                   help="withhold open-book answers no source sentence supports (default: the retrieval.require_support setting)")
    p.add_argument("--out", type=Path)
    p.add_argument("--report", type=Path, help="write the HTML decision report here")
    p.add_argument("--name", default="command line", help="the run's name on the Evaluate page")
    p.add_argument("--save", action="store_true", help="(always on: every run is saved and listed on the Evaluate page)")
    args = p.parse_args(argv)

    from core.compare.engine import CompareEngine
    from core.demo import DATASETS_DIR
    from core.eval.items import load_test_items
    from core.eval.service import KIND, EvalService, EvalSpec
    from core.eval.summary import format_table, summarize
    from core.finetune.adapters import AdapterRegistry
    from core.knowledge.service import KnowledgeService
    from core.models.runtime import ModelRuntime
    from core.seed import seed_demo

    settings = apply_model_choice(load_settings())  # the model picked on the Models page, if any
    try:
        knowledge = KnowledgeService(settings)
        knowledge.recover()  # this process owns the data folder while it runs, as the app does
    except LabError as exc:  # a locked or damaged store, said before any model loads
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if settings.demo_seed:
            seed_demo(knowledge)
        kb = args.kb or (knowledge.active_kb().name if knowledge.active_kb() else None)
        if kb is None:
            raise LabError("There is no knowledge base to evaluate against.")
        adapters = AdapterRegistry(settings.adapters_dir)
        adapter_id = adapters.by_name(args.adapter).id if args.adapter else None
        items = load_test_items(args.test_set or DATASETS_DIR / "test.jsonl")[: args.limit]
        version = None
        if args.kb_version:
            matches = [v.version for v in knowledge.versions(kb) if v.version.startswith(args.kb_version)]
            if len(matches) != 1:
                raise LabError(f"'{args.kb_version}' names {'no' if not matches else 'more than one'} version of '{kb}'.")
            version = matches[0]
        engine = CompareEngine(ModelRuntime(settings), knowledge, adapters, settings)
        spec = EvalSpec(name=args.name[:120] or "command line", kb=kb, kb_version=version, arms=args.arms.split(","),
                        adapter_id=adapter_id, test_set_name=str(args.test_set or "Demo test set"), items=items,
                        max_new_tokens=args.max_new_tokens, top_k=args.top_k, require_support=args.require_support)
        # The same job record as a run queued from the page, run here (run_by: no runner claims it).
        evals = EvalService(settings, lambda: engine, knowledge=knowledge)
        job = evals.jobs.submit(KIND, spec.name, spec.model_dump(), run_by=os.getpid())
        run = evals.run_job(job.id, echo=lambda i, n: print(f"\r{i}/{n} questions", end="", file=sys.stderr, flush=True))
        if run is None:
            raise LabError(evals.jobs.get(job.id).message.removeprefix("failed: "))
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        knowledge.close()
    print(file=sys.stderr)
    print(f"knowledge base {run.kb} v{run.kb_version} · model {run.model_fingerprint} · adapter "
          f"{run.adapter_fingerprint or '—'} · {len(items)} questions · {run.seconds:.0f} s")
    summary = summarize(run)
    print(format_table(summary))
    from core.eval.decision import Needs, recommend
    from core.eval.economics import Prices, price_run

    econ = price_run(summary, Prices(), run.training_seconds)
    rec = recommend(Needs(), summary, econ)
    if rec.verdict:
        print(f"\n{rec.verdict}")
    print(f"\nrecommendation: {rec.arm.approach} ({rec.basis})")
    for reason in rec.reasons:
        print(f"  - {reason}")
    if args.report:
        from core.eval.report import html_report

        args.report.write_text(html_report(run, summary, rec, econ, needs=Needs()), encoding="utf-8")
        print(f"wrote {args.report}")
    print(f"saved run {run.id} (job {job.id})")
    if args.out:
        args.out.write_text(run.model_dump_json(indent=2), encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
