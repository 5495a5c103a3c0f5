"""An evaluation's speed with its page open versus closed.

Evaluations used to run in a thread of the app, and the Evaluate page's 2-second progress refresh
competed with them for the interpreter (one step took 62-163 s with the page open against 3.6-4.5 s
without). They now run in a job worker process. This starts the app on a fresh demo workspace and
runs the same evaluation through the page several times, alternately leaving a headless browser
on the Evaluate page until the run ends (open) and navigating away right after the click
(closed: the baseline, measured in the same run). It prints seconds per question (the run's own
clock, so the worker's model load is not counted) and the ratio open / closed; the target is
within 20% (ratio <= 1.2). Last line: ratio=<s/question page open divided by page closed>

    python bench/eval_page.py [--questions 4] [--rounds 2] [--max-new-tokens 32]
    python bench/eval_page.py --smoke   # one round of one question, 8 tokens (the page's least), no warm-up (for tests)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.eval.runs import RunStore  # noqa: E402
from core.jobs.store import JobStore  # noqa: E402
from tests.e2e.harness import browser_page, running_app  # noqa: E402


SMOKE = {"questions": 1, "rounds": 1, "max_new_tokens": 8, "warm_up": False}


def start_run(page, url: str, questions: int, max_new_tokens: int, name: str) -> None:
    page.goto(f"{url}/evaluate")
    page.get_by_label("Run name", exact=True).fill(name)
    for label, value in (("Questions (0 = all)", questions), ("Max new tokens", max_new_tokens)):
        box = page.get_by_label(label, exact=True)
        box.fill(str(value))
        box.press("Tab")
    page.get_by_role("button", name="Run evaluation").click()
    page.get_by_text("started: follow it below").wait_for()


def wait_done(jobs: JobStore, name: str, page=None) -> str:
    """The run id of the finished job ``name``; with ``page``, the browser stays on the page meanwhile."""
    while True:
        found = [j for j in jobs.list("eval") if j.name == name]
        if found and found[0].status not in ("queued", "running"):
            assert found[0].status == "done", found[0].message
            return found[0].result["run_id"]
        (page.wait_for_timeout(1000) if page is not None else time.sleep(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--warm-up", action=argparse.BooleanOptionalAction, default=True,
                    help="a first run that loads and caches everything, not counted")
    ap.add_argument("--smoke", action="store_true", help=f"a quick check of the code path: {SMOKE}")
    if "--smoke" in sys.argv[1:]:
        ap.set_defaults(**SMOKE)
    args = ap.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-eval-page-"))
    per_question: dict[str, list[float]] = {"closed": [], "open": []}
    with running_app(data, "bench_eval_page_streamlit.log", LAB_DEMO_ADAPTER__ENABLED="false") as url, browser_page() as page:
        jobs, runs = JobStore(data), RunStore(data / "evals")
        if args.warm_up:
            start_run(page, url, args.questions, args.max_new_tokens, "warm-up")  # first loads, caches: not counted
            wait_done(jobs, "warm-up")
        for r in range(args.rounds):
            for mode in ("closed", "open"):
                name = f"bench {mode} {r}"
                start_run(page, url, args.questions, args.max_new_tokens, name)
                if mode == "closed":
                    page.goto("about:blank")
                run = runs.get(wait_done(jobs, name, page if mode == "open" else None))
                per_question[mode].append(run.seconds / len(run.results))
                print(f"round {r + 1} page {mode:6s}: {per_question[mode][-1]:6.2f} s/question "
                      f"({len(run.results)} questions x {len(run.arms)} arms)", flush=True)
    closed, opened = statistics.median(per_question["closed"]), statistics.median(per_question["open"])
    print(f"\nmedian s/question: page closed {closed:.2f}, page open {opened:.2f} (target: open <= 1.2 x closed)")
    print(f"ratio={opened / closed:.2f}")


if __name__ == "__main__":
    main()
