"""The verdict's heuristics on two columns: the demo set (written by the team) and the development
set (``bench/devset/``: documents nobody on the team wrote). Model-heavy: run it alone.

    .venv/bin/python bench/verdict.py                      # both sets, base, RAG and oracle
    .venv/bin/python bench/verdict.py --rescore DIR        # the saved runs of DIR, scored again (no model)
    .venv/bin/python bench/verdict.py --smoke              # two questions: it runs and prints its table
    .venv/bin/python bench/verdict.py --adapters --arms finetuned,hybrid --tag ft   # the adapter arms

``--adapters`` trains one LoRA adapter per set in the workspace before asking (or reuses the one a
previous run with the same ``--workspace`` trained), with the product's default recipe
(``core.finetune.recipe.TrainingConfig``) through ``python -m core.finetune``: on the demo set the
shipped demo pairs (what the first start trains), on the development set the pairs the product's
generator writes from its documents (``FinetuneService.build_from_kb``'s generator and its
unanswerable pairs), all of them trained on: the questions cover every document, and an adapter
that never saw a document cannot be judged on it.

Each set is evaluated with the product's own code (``core.eval.run.run_eval``, withholding on, so
every open-book answer carries both what was shown and the model's own answer when it was
withheld) in a fresh workspace, and the runs are saved as ``<set>.json`` in ``--out`` (default
``data/verdict/``). Per arm and set it prints:
- right as shown: answers scored right after withholding (key-fact accuracy);
- right before withholding: the model's own answers scored right;
- right withheld / wrong withheld: what the support check took away (a wrong answer is one that
  is neither right nor an abstention; any claim to an unanswerable question is wrong);
- wrong shown as supported: wrong answers the support check let through (open-book arms);
- abstentions on unanswerable questions, and answers shown (the share of questions answered);
- format echoes: answers that only copy the prompt's format ("The answer is:", "[1] file.md").
Then the withholding ratio (wrong withheld per right withheld, target >= 3 on the dev set), RAG
minus base on right answers with a paired bootstrap 95% interval, and the scorer's agreement with
the answers read by hand (``bench/devset/labels.jsonl``, ``core.eval.agreement``).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import core  # noqa: E402,F401  (sets the MKL code path before torch loads)
from core.compare.arms import ARMS_BY_NAME  # noqa: E402
from core.eval import metrics as m  # noqa: E402
from core.eval.agreement import DEVSET_DIR, agreements  # noqa: E402
from core.eval.items import TestItem, load_test_items  # noqa: E402
from core.eval.run import EvalRun  # noqa: E402

DEV_KB = "Development set"


@dataclass
class Tally:
    questions: int = 0
    answerable: int = 0
    right_shown: int = 0
    right_own: int = 0  # before withholding
    right_withheld: int = 0
    wrong_withheld: int = 0
    wrong_supported: int = 0
    unanswerable: int = 0
    abstained_unanswerable: int = 0
    shown: int = 0  # answers shown (not abstentions)
    echoes: int = 0


ROWS = [  # (field, label, denominator field)
    ("right_shown", "right as shown", "answerable"),
    ("right_own", "right before withholding", "answerable"),
    ("right_withheld", "right answers withheld", None),
    ("wrong_withheld", "wrong answers withheld", None),
    ("wrong_supported", "wrong shown as supported", None),
    ("abstained_unanswerable", "abstained on unanswerable", "unanswerable"),
    ("shown", "answers shown", "questions"),
    ("echoes", "format echoes", "questions"),
]


def tally(run: EvalRun) -> dict[str, Tally]:
    out: dict[str, Tally] = {}
    for r in run.results:
        item = r.item
        for arm, s in r.arms.items():
            t = out.setdefault(arm, Tally())
            own = s.withheld if s.withheld is not None else s.text
            verdict_own = m.judge(item.question, item.answerable, item.key_facts, own, item.answer)
            verdict_shown = m.judge(item.question, item.answerable, item.key_facts, s.text, item.answer)
            t.questions += 1
            t.answerable += item.answerable
            t.unanswerable += not item.answerable
            t.right_own += verdict_own == "right"
            t.right_shown += verdict_shown == "right"
            t.abstained_unanswerable += (not item.answerable) and s.abstained
            t.shown += not s.abstained
            t.echoes += m.is_format_echo(own, [p.doc_name for p in s.passages])
            if s.withheld is not None:
                t.right_withheld += verdict_own == "right"
                t.wrong_withheld += verdict_own == "wrong"
            elif ARMS_BY_NAME[arm].open_book and verdict_shown == "wrong" and not s.abstained:
                t.wrong_supported += 1
    return out


def rag_minus_base(run: EvalRun, seed: int = 0) -> tuple[float, float, float] | None:
    """RAG's right answers (as shown) minus base's, per answerable question: mean and paired
    bootstrap 95% interval (the evaluation's own ``bootstrap_ci`` over the per-question differences)."""
    diffs = []
    for r in run.results:
        if r.item.answerable and "rag" in r.arms and "base" in r.arms:
            right = {a: m.judge(r.item.question, True, r.item.key_facts, r.arms[a].text, r.item.answer) == "right" for a in ("rag", "base")}
            diffs.append(float(right["rag"]) - float(right["base"]))
    return m.bootstrap_ci(diffs, n_resamples=2000, seed=seed) if diffs else None


def print_table(runs: dict[str, EvalRun]) -> None:
    tallies = {name: tally(run) for name, run in runs.items()}
    arms = [a for a in ARMS_BY_NAME if any(a in t for t in tallies.values())]
    sets = list(runs)
    print(f"{'':28}" + "".join(f"{arm + ' · ' + s:>20}" for arm in arms for s in sets))
    for field, label, denominator in ROWS:
        cells = []
        for arm in arms:
            for s in sets:
                t = tallies[s].get(arm)
                if t is None:
                    cells.append(f"{'—':>20}")
                    continue
                value = getattr(t, field)
                cells.append((f"{value}/{getattr(t, denominator)}" if denominator else f"{value}").rjust(20))
        print(f"{label:28}" + "".join(cells))
    for s in sets:
        withheld = [(t.right_withheld, t.wrong_withheld) for a, t in tallies[s].items() if ARMS_BY_NAME[a].open_book]
        right_w, wrong_w = sum(r for r, _ in withheld), sum(w for _, w in withheld)
        ratio = wrong_w / right_w if right_w else float("inf") if wrong_w else float("nan")
        echoes = sum(t.echoes for a, t in tallies[s].items() if ARMS_BY_NAME[a].open_book)
        answers = sum(t.questions for a, t in tallies[s].items() if ARMS_BY_NAME[a].open_book)
        diff = rag_minus_base(runs[s])
        diff_text = "—" if diff is None else f"{diff[0]:+.2f} [{diff[1]:+.2f}, {diff[2]:+.2f}]"
        print(f"\n{s}: open-book arms withheld {wrong_w} wrong and {right_w} right answers (target >= 3 wrong per right); "
              f"format echoes {echoes}/{answers} open-book answers; RAG minus base, right as shown: {diff_text}")
        print(f"ratio={ratio:.2f}  ({s}: wrong answers withheld per right answer withheld)")


def withholding_pays(tallies: dict[str, Tally]) -> bool:
    """Issue 24's rule: withholding is on by default only where, on the development set, it takes
    away at least three wrong answers for every right one (open-book arms together)."""
    open_book = [t for a, t in tallies.items() if ARMS_BY_NAME[a].open_book]
    right, wrong = sum(t.right_withheld for t in open_book), sum(t.wrong_withheld for t in open_book)
    return wrong > 0 and wrong >= 3 * right


def record(runs: dict[str, EvalRun], path: Path) -> None:
    """The measurement the defaults follow (tests/test_verdict_defaults.py reads it)."""
    from dataclasses import asdict
    from datetime import date

    from core.eval.run import prompt_hash

    tallies = {name: tally(run) for name, run in runs.items()}
    data = {"date": date.today().isoformat(), "prompt_hash": prompt_hash(),
            "model": next(iter(runs.values())).model_fingerprint,
            "tallies": {name: {arm: asdict(t) for arm, t in by_arm.items()} for name, by_arm in tallies.items()},
            "withholding_pays": withholding_pays(tallies["dev"]) if "dev" in tallies else None}
    path.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}")


def print_agreement() -> None:
    for a in agreements():
        kappa = "—" if a.kappa is None else f"{a.kappa:.2f}"
        print(f"\nscorer vs hand labels, round {a.round}: {a.agreed}/{a.answers} agree ({a.accuracy:.1%}), "
              f"Cohen's kappa {kappa}; disagreements:")
        for d in a.disagreements:
            print(f"  {d.id} {d.arm:9} person={d.label:9} scorer={d.scored:9} {d.answer[:90]!r}  ({d.reason})")


def devset_items() -> list[TestItem]:
    return load_test_items(DEVSET_DIR / "questions.jsonl")


def set_adapter(workspace: Path, knowledge, name: str, kb: str) -> str:
    """The id of this set's adapter in ``workspace``: trained now (default recipe) unless a
    previous run left one."""
    import os
    import subprocess

    from core.config import load_settings
    from core.finetune.dataset_gen import generate, unanswerable_pairs
    from core.finetune.service import FinetuneService
    from core.seed import demo_pairs

    adapter_name = f"verdict {name} adapter"
    settings = load_settings(data_dir=workspace, demo_seed=False, demo_adapter={"enabled": False})
    ft = FinetuneService(settings)
    for a in ft.adapters.list():
        if a.name == adapter_name:
            return a.id
    if name == "demo":
        pairs = demo_pairs("train")
    else:
        docs = [(d.name, knowledge.document_text(kb, d.doc_id)) for d in knowledge.documents(kb)]
        pairs = generate(docs).pairs + unanswerable_pairs(10, 0)
    dataset = ft.datasets.save(f"verdict {name} pairs", pairs, [], kb, knowledge.version(kb), "generated")
    print(f"{name}: training {adapter_name} on {len(pairs)} pairs (default recipe)", file=sys.stderr, flush=True)
    env = {**os.environ, "LAB_DATA_DIR": str(workspace), "LAB_DEMO_SEED": "false", "LAB_DEMO_ADAPTER__ENABLED": "false"}
    subprocess.run([sys.executable, "-m", "core.finetune", "--dataset", dataset.id, "--name", adapter_name],
                   cwd=ROOT, env=env, check=True, stdout=sys.stderr)
    return next(a.id for a in FinetuneService(settings).adapters.list() if a.name == adapter_name)


def run_sets(args) -> dict[str, EvalRun]:
    from core.compare.engine import CompareEngine
    from core.config import load_settings
    from core.eval.run import run_eval
    from core.eval.testsets import demo_test_set
    from core.finetune.adapters import AdapterRegistry
    from core.knowledge.service import KnowledgeService
    from core.models.runtime import ModelRuntime
    from core.demo import DEMO_KB
    from core.seed import demo_files

    workspace = Path(args.workspace or tempfile.mkdtemp(prefix="verdict-"))
    settings = load_settings(data_dir=workspace, demo_seed=False, demo_adapter={"enabled": False})
    knowledge = KnowledgeService(settings)
    knowledge.recover()  # --workspace may name a folder an earlier, killed run left
    engine = CompareEngine(ModelRuntime(settings), knowledge, AdapterRegistry(settings.adapters_dir), settings)
    dev_docs = sorted((DEVSET_DIR / "docs").iterdir())
    plan = {"demo": (DEMO_KB, demo_test_set(), demo_files()),
            "dev": (DEV_KB, devset_items(), [(p.name, p.read_bytes()) for p in dev_docs if p.is_file()])}
    runs = {}
    try:
        for name in args.sets.split(","):
            kb, items, files = plan[name]
            items = items[: args.limit] if args.limit else items
            if args.smoke:  # only what the questions read: seconds, not minutes
                wanted = {i.source for i in items}
                files = [f for f in files if f[0] in wanted]
            if not knowledge.catalog.kb(kb):
                knowledge.create_kb(kb)
                knowledge.ingest_files(kb, files)
            adapter_id = set_adapter(workspace, knowledge, name, kb) if args.adapters else None
            started = time.perf_counter()
            decoding = engine.decoding(max_new_tokens=args.max_new_tokens) if args.max_new_tokens else None
            run = run_eval(engine, kb, items, args.arms.split(","), adapter_id, decoding=decoding, require_support=True,
                           progress=lambda i, n: print(f"\r{name}: {i}/{n} questions", end="", file=sys.stderr, flush=True))
            run.name = f"verdict {name}"
            print(f"\r{name}: {len(items)} questions in {time.perf_counter() - started:.0f} s", file=sys.stderr)
            runs[name] = run
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                (args.out / f"{name}{'.' + args.tag if args.tag else ''}.json").write_text(run.model_dump_json(indent=1), encoding="utf-8")
    finally:
        knowledge.close()
    return runs


def load_runs(folder: Path) -> dict[str, EvalRun]:
    """The runs saved in ``folder``, one per set: ``dev.json`` and ``dev.base.json`` (the same
    questions asked of other arms, e.g. with ``--arms base --tag base``) are merged into one."""
    runs: dict[str, EvalRun] = {}
    for f in sorted(folder.glob("*.json")):
        run = EvalRun.model_validate_json(f.read_text(encoding="utf-8"))
        name = f.name.split(".")[0]
        if name not in runs:
            runs[name] = run
            continue
        merged = runs[name]
        if [r.item.question for r in merged.results] != [r.item.question for r in run.results]:
            raise SystemExit(f"{f} asks other questions than the {name} run it would be merged with")
        for mine, theirs in zip(merged.results, run.results):
            mine.arms.update(theirs.arms)
        merged.arms += [a for a in run.arms if a not in merged.arms]
    return runs


def current_references(runs: dict[str, EvalRun]) -> None:
    """Score saved answers against today's references: a reference fixed since the run (in a commit
    of its own) counts, the question and the answer stay as they were."""
    from core.eval.testsets import demo_test_set

    today = {"demo": demo_test_set, "dev": devset_items}
    for name, run in runs.items():
        if name in today:
            by_question = {i.question: i for i in today[name]()}
            for r in run.results:
                r.item = by_question.get(r.item.question, r.item)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sets", default="demo,dev")
    p.add_argument("--arms", default="base,rag,oracle")
    p.add_argument("--limit", type=int, help="only the first N questions of each set")
    p.add_argument("--workspace", type=Path, help="data folder to use (default: a fresh temporary one)")
    p.add_argument("--out", type=Path, default=ROOT / "data" / "verdict", help="where the runs are saved")
    p.add_argument("--rescore", type=Path, help="score the runs saved in this folder again instead of running")
    p.add_argument("--smoke", action="store_true", help="two questions of the dev set, base and RAG, 8 new tokens")
    p.add_argument("--max-new-tokens", type=int, help="default: the product's generation.max_new_tokens")
    p.add_argument("--tag", help="save the runs as <set>.<tag>.json (merged with <set>.json by --rescore)")
    p.add_argument("--record", action="store_true",
                   help="write the measurement the defaults follow to bench/devset/measured.json")
    p.add_argument("--adapters", action="store_true",
                   help="train (or reuse) one adapter per set for the finetuned and hybrid arms (see above)")
    p.add_argument("--rag-instruction", help="try another open-book instruction (core.models.prompts.RAG_INSTRUCTION)")
    args = p.parse_args()
    if args.rag_instruction:
        from core.models import prompts

        prompts.RAG_INSTRUCTION = args.rag_instruction
    if args.smoke:  # seconds: it runs and prints its table, no figure means anything
        args.limit, args.arms, args.sets, args.max_new_tokens = 2, "base,rag", "dev", 8
        args.out = None
    if args.rescore:
        runs = load_runs(args.rescore)
        current_references(runs)
    else:
        runs = run_sets(args)
    print_table(runs)
    if not args.smoke:
        print_agreement()
    if args.record:
        record(runs, DEVSET_DIR / "measured.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
