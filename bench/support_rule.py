"""How well the support check separates right from wrong open-book answers, before and after
the fact rule (core.compare.support): on a saved evaluation run made with the check off
(`python -m core.eval --no-require-support --out run.json`), so every answer is the model's own.

    .venv/bin/python bench/support_rule.py run.json
    .venv/bin/python bench/support_rule.py --smoke   # makes its own 1-question RAG run first (for tests)

Per open-book arm it counts, under each rule:
- wrong but supported: the answer states no key fact (or answers an unanswerable question) and
  yet a passage sentence is shown as its support (the first demo's "A: 1" under "A: No.");
- right but withheld: the answer states every key fact and no sentence is found to support it.
Last line: ratio=<wrong answers shown as supported (unanswerable ones included), before / fact rule>
("n/0" when the fact rule shows none).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.compare.arms import ARMS_BY_NAME  # noqa: E402
from core.config import load_settings  # noqa: E402
from core.eval import metrics as m  # noqa: E402
from core.eval.run import EvalRun  # noqa: E402
from core.models.abstention import is_abstention  # noqa: E402
from core.compare import support  # noqa: E402
from core.knowledge.embedding.embeddings import load_embedder  # noqa: E402
from core.knowledge.retrieval.sentences import FLOOR, closeness, split_sentences  # noqa: E402

# The README's command with the fewest questions and one open-book arm: a run to score in seconds.
SMOKE_EVAL = ["--arms", "rag", "--limit", "1", "--top-k", "1", "--max-new-tokens", "8", "--no-require-support"]


def smoke_run() -> str:
    """A saved run made the README's way (``python -m core.eval ... --out run.json``), small, in a scratch workspace."""
    from core.eval.__main__ import main as evaluate

    with tempfile.TemporaryDirectory(prefix="support-rule-smoke-") as tmp:
        os.environ["LAB_DATA_DIR"] = str(Path(tmp) / "data")  # core.eval reads its workspace from the settings
        out = Path(tmp) / "run.json"
        if evaluate([*SMOKE_EVAL, "--out", str(out)]) != 0:
            raise SystemExit("the smoke run's evaluation failed")
        return out.read_text(encoding="utf-8")


def supported(embedder, answer: str, sentences: list[str], question: str, facts: bool) -> bool:
    scores = support.supporting(embedder, answer, sentences, question) if facts else \
        closeness(embedder, answer, sentences)
    return any(sc is not None and sc >= FLOOR for sc in scores)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path, nargs="?", help="a saved run (python -m core.eval --no-require-support --out FILE)")
    p.add_argument("--smoke", action="store_true", help="without a run: score a small one made first, core.eval " + " ".join(SMOKE_EVAL))
    args = p.parse_args()
    if args.run is None and not args.smoke:
        p.error("give a saved run, or --smoke")
    run = EvalRun.model_validate_json(smoke_run() if args.run is None else args.run.read_text(encoding="utf-8"))
    if run.require_support:
        print("error: this run withheld unsupported answers; make one with --no-require-support", file=sys.stderr)
        return 2
    embedder = load_embedder(load_settings())
    print(f"{run.name or args.run.name}: {len(run.results)} questions, arms {', '.join(run.arms)}")
    print(f"{'arm':8} {'rule':12} {'wrong but supported':>20} {'(unanswerable)':>15} {'right but withheld':>19} {'answers':>8}")
    shown = {"before": 0, "fact rule": 0}  # wrong answers shown as supported, unanswerable ones included
    for arm in [a for a in run.arms if a in ARMS_BY_NAME and ARMS_BY_NAME[a].open_book]:
        for label, facts in (("before", False), ("fact rule", True)):
            wrong_supported = unanswerable_supported = right_withheld = answers = 0
            for r in run.results:
                s = r.arms.get(arm)
                if s is None or s.abstained or not s.text or not s.passages:
                    continue
                answers += 1
                sentences = [x.strip() for src in s.passages for x in split_sentences(src.text) if x.strip()]
                ok = supported(embedder, s.text, sentences, r.item.question, facts)
                if not r.item.answerable:
                    unanswerable_supported += ok
                elif s.key_fact_hit == 1.0:
                    right_withheld += not ok
                elif s.key_fact_hit == 0.0:
                    wrong_supported += ok
            print(f"{arm:8} {label:12} {wrong_supported:>20} {unanswerable_supported:>15} {right_withheld:>19} {answers:>8}")
            shown[label] += wrong_supported + unanswerable_supported
    print("\nkey-fact accuracy, every key fact stated -> and neither denied ('No. ... 14 days') nor hedged ('I don't know')")
    for arm in run.arms:
        scored = [(r, r.arms[arm]) for r in run.results if arm in r.arms and r.arms[arm].key_fact_recall is not None]
        before = sum(s.key_fact_recall == 1.0 for _, s in scored)
        after = sum(s.key_fact_recall == 1.0 and not m.contradicts_itself(r.item.question, s.text)
                    and not (s.abstained or is_abstention(s.text)) for r, s in scored)
        print(f"{arm:8} {before}/{len(scored)} -> {after}/{len(scored)}")
    before, after = shown["before"], shown["fact rule"]
    print(f"ratio={before / after:.2f}" if after else f"ratio={before}/0")
    return 0


if __name__ == "__main__":
    sys.exit(main())
