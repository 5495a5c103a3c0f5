"""An interpreter that imports the heavy libraries once and runs scripts in forks of itself.

Importing torch, transformers, sentence-transformers and LlamaIndex takes ~15 s per process on 2
cores, longer than most benchmarks' --smoke runs; nine fresh interpreters would cost over two
minutes of imports alone. Each script here runs as ``python SCRIPT ARGS`` would (``__main__``,
its own argv, cwd, environment, sys.path[0] and temp folder, stdout and stderr to a log file),
in a forked child that is its own process group, so a timeout stops whatever it started.
Nothing runs in this parent before the forks but imports: no thread pool is running to be
inherited half-way.

Protocol (tests/test_bench_smoke.py): one JSON request per line on stdin,
{"script", "args", "cwd", "env", "log", "timeout"}; one JSON reply per line on stdout,
{"exit": exit status or -signal, "seconds", "cpu_s", "timed_out"}, where cpu_s counts the
script's own processes and those it waited for (a figure a busy machine changes less than seconds). EOF on stdin ends it.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

sys.path[0] = str(Path(__file__).resolve().parents[1])  # the repository, in place of tests/

import core  # noqa: E402,F401  (sets the MKL code path before torch loads)
import llama_index.core  # noqa: E402,F401
import sentence_transformers  # noqa: E402,F401
import torch  # noqa: E402,F401
import transformers  # noqa: E402,F401

import core.knowledge.service  # noqa: E402,F401
import core.models.runtime  # noqa: E402,F401


def run_script(request: dict) -> None:
    """In the forked child: become ``python script args`` and exit with its status."""
    os.setpgid(0, 0)
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout.reconfigure(line_buffering=True)  # what a timed-out script printed stays in its log
    os.chdir(request["cwd"])
    os.environ.update(request["env"])
    import runpy
    import tempfile
    import traceback

    tempfile.tempdir = None  # re-read TMPDIR
    script = str(Path(request["script"]).resolve())
    sys.argv = [script, *request["args"]]
    sys.path[0] = str(Path(script).parent)  # as python puts a script's folder first
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        if isinstance(exc.code, int) or exc.code is None:
            code = exc.code or 0
        else:
            print(exc.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def run(request: dict) -> dict:
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        try:
            run_script(request)
        finally:
            os._exit(1)
    timed_out = False
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if time.monotonic() - started > request["timeout"]:
            timed_out = True
            os.killpg(pid, signal.SIGKILL)
            _, status, usage = os.wait4(pid, 0)
            break
        time.sleep(0.2)
    return {"exit": os.waitstatus_to_exitcode(status), "seconds": round(time.monotonic() - started, 1),
            "cpu_s": round(usage.ru_utime + usage.ru_stime, 1), "timed_out": timed_out}


def main() -> None:
    for line in sys.stdin:
        print(json.dumps(run(json.loads(line))), flush=True)


if __name__ == "__main__":
    main()
