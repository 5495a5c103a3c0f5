"""Parse untrusted files in a child process with a time and memory limit.

A hostile PDF or DOCX can loop forever or allocate without bound; in a subprocess with
``RLIMIT_AS`` and a timeout, the worst it can do is lose its own parse. One child serves a
whole upload batch (starting Python per file cost more than parsing small files) and is
replaced after a timeout or a crash, so one bad file never takes the rest of the batch down.
"""

from __future__ import annotations

import json
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from core.config import REPO_ROOT
from core.errors import RejectedFile


@dataclass(frozen=True)
class Parsed:
    kind: str
    text: str
    note: str = ""  # a caveat for the result line, e.g. a guessed text encoding


def _limits(memory_mb: int):
    def apply() -> None:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


class Parser:
    """A parsing subprocess; use as a context manager, call ``parse`` from one thread."""

    def __init__(self, tmp_dir: Path, *, timeout_s: float, memory_mb: int, max_unpacked_mb: int):
        self.tmp_dir, self.timeout_s, self.memory_mb, self.max_unpacked_mb = tmp_dir, timeout_s, memory_mb, max_unpacked_mb
        self._proc: subprocess.Popen | None = None
        self._lines: queue.Queue = queue.Queue()

    def __enter__(self) -> Parser:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _start(self) -> subprocess.Popen:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
        proc = subprocess.Popen(
            [sys.executable, "-m", "core.knowledge.ingestion.parse_worker"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            preexec_fn=_limits(self.memory_mb), env=env, cwd=REPO_ROOT, text=True,
        )
        lines: queue.Queue = queue.Queue()
        # A reader thread turns the child's stdout into a queue, so waiting can time out.
        threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout] + [lines.put(None)], daemon=True).start()
        self._proc, self._lines = proc, lines
        return proc

    def close(self) -> None:
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None

    def parse(self, name: str, data: bytes) -> Parsed:
        """Extract text from ``data``; raise ``RejectedFile`` with the reason."""
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        # The temp name is ours, never the uploaded one: hostile names cannot reach the disk.
        fd, tmp_path = tempfile.mkstemp(dir=self.tmp_dir, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            line = self._ask({"path": tmp_path, "name": name, "max_unpacked_mb": self.max_unpacked_mb})
        finally:
            os.unlink(tmp_path)
        result = json.loads(line)
        if not result["ok"]:
            raise RejectedFile(result["reason"])
        return Parsed(kind=result["kind"], text=result["text"], note=result.get("note", ""))

    def _ask(self, request: dict) -> str:
        proc = self._proc if self._proc is not None and self._proc.poll() is None else self._start()
        try:
            proc.stdin.write(json.dumps(request) + "\n")
            proc.stdin.flush()
            line = self._lines.get(timeout=self.timeout_s)
        except queue.Empty:
            self.close()
            raise RejectedFile(f"parsing took longer than {self.timeout_s:g} s and was stopped.") from None
        except (BrokenPipeError, OSError):
            line = None
        if line is None:  # the child died: most often the memory limit
            self.close()
            raise RejectedFile("the file needs too much memory to parse, or crashed the parser.")
        return line


def parse_file(name: str, data: bytes, tmp_dir: Path, *, timeout_s: float, memory_mb: int, max_unpacked_mb: int) -> Parsed:
    """Parse one file in a fresh subprocess."""
    with Parser(tmp_dir, timeout_s=timeout_s, memory_mb=memory_mb, max_unpacked_mb=max_unpacked_mb) as parser:
        return parser.parse(name, data)
