"""Benchmarks that cannot rot: every ``bench/*.py --smoke`` exits 0 and prints its ``ratio=`` line.

The value is never asserted (a smoke run is too small to mean anything); what is checked is that
the benchmark still runs through today's code. Each runs in a scratch folder (cwd, data folder,
temp files), offline, with the settings' defaults (no LAB_ variable of the suite's, no
settings.toml), as ``python bench/NAME.py --smoke``, in a fork of one interpreter that imported
the heavy libraries once (tests/preloaded.py).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import REPO_ROOT

BENCH = REPO_ROOT / "bench"
# Written on other branches; they join this test when they take --smoke.
NOT_YET: set[str] = set()
# A benchmark is a script (it has a __main__ block); a module it imports (bench/shape_measure.py) is not one.
BENCHES = sorted(p for p in BENCH.glob("*.py") if p.name not in NOT_YET and '__name__ == "__main__"' in p.read_text())
TIMEOUT_S = 300  # per benchmark, on a busy 2-core machine; a smoke run takes seconds after imports
# eval_page.py's smoke starts `streamlit run`, Chromium and two evaluation workers (a fresh interpreter
# and a model load each): 103 s on a busy 2-core machine, more than this whole file may add to the suite.
# `make bench-smoke` runs it; BENCH_SMOKE_ALL=1 runs it here too.
SLOW = {"eval_page.py"}


class Preloaded:
    """tests/preloaded.py, started once for this file; ``run`` runs one script in a fork of it."""

    def __init__(self, env: dict[str, str]):
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("preloaded.py"))], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    def run(self, script: Path, args: list[str], cwd: Path, env: dict[str, str], log: Path) -> dict:
        request = {"script": str(script), "args": args, "cwd": str(cwd), "env": env, "log": str(log),
                   "timeout": TIMEOUT_S}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        assert reply, f"tests/preloaded.py exited with {self.proc.wait()}"
        return json.loads(reply)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def preloaded():
    env = {k: v for k, v in os.environ.items() if not k.startswith("LAB_")}
    # OpenMP threads that wait by sleeping, not spinning: on 2 cores shared with other processes, a smoke
    # run's embedding took 1.7x less time (measured 5.8 s against 9.8-11.0 s, load average 6).
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false", OMP_WAIT_POLICY="PASSIVE")
    interpreter = Preloaded(env)
    yield interpreter
    interpreter.close()


def stop_jobs(folder: Path) -> None:
    """Job supervisors run detached (their own session): stop any a benchmark's workspace recorded."""
    from core.jobs.store import JobStore
    from core.jobs.supervisor import stop_recorded

    for db in folder.rglob("jobs.db"):
        stop_recorded(JobStore(db.parent))


def param(bench: Path):
    slow = pytest.mark.skipif(bench.name in SLOW and not os.environ.get("BENCH_SMOKE_ALL"),
                              reason=f"{bench.name} --smoke takes minutes (browser, server, workers): make bench-smoke runs it")
    return pytest.param(bench, id=bench.stem, marks=slow)


@pytest.mark.parametrize("bench", [param(b) for b in BENCHES])
def test_smoke_run_prints_its_ratio(bench, preloaded, tmp_path):
    if bench.name == "eval_page.py":
        from tests.e2e.harness import require_chromium

        require_chromium()  # as the browser tests: skipped without Chromium, a failure on CI
    log = tmp_path / "output.log"
    env = {"LAB_DATA_DIR": str(tmp_path / "data"), "LAB_SETTINGS_FILE": str(tmp_path / "no-settings.toml"),
           "TMPDIR": str(tmp_path)}
    try:
        result = preloaded.run(bench, ["--smoke"], tmp_path, env, log)
    finally:
        stop_jobs(tmp_path)
    output = log.read_text(errors="replace")
    print(f"{bench.name} --smoke: {result['seconds']} s, {result['cpu_s']} CPU s")  # shown with -s or on failure
    assert not result["timed_out"], f"{bench.name} --smoke ran past {TIMEOUT_S} s:\n{output[-4000:]}"
    assert result["exit"] == 0, f"{bench.name} --smoke exited with {result['exit']}:\n{output[-4000:]}"
    assert re.search(r"^ratio=\S", output, re.MULTILINE), f"{bench.name} --smoke printed no ratio= line:\n{output[-4000:]}"
