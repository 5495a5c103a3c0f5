"""Parse untrusted files in a child process with a time and memory limit.

A hostile PDF or DOCX can loop forever or allocate without bound; in a subprocess with
``RLIMIT_AS`` and a timeout, the worst it can do is lose its own parse.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from core.config import REPO_ROOT
from core.errors import RejectedFile


@dataclass(frozen=True)
class Parsed:
    kind: str
    text: str


def _limits(memory_mb: int):
    def apply() -> None:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    return apply


def parse_file(
    name: str, data: bytes, tmp_dir: Path, *, timeout_s: float, memory_mb: int, max_unpacked_mb: int
) -> Parsed:
    """Extract text from ``data`` in a subprocess; raise ``RejectedFile`` with the reason."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    # The temp name is ours, never the uploaded one: hostile names cannot reach the disk.
    fd, tmp_path = tempfile.mkstemp(dir=tmp_dir, prefix="upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "OMP_NUM_THREADS": "1"}
        try:
            proc = subprocess.run(
                [sys.executable, "-m", "core.knowledge.parse_worker", tmp_path, name, str(max_unpacked_mb)],
                capture_output=True,
                timeout=timeout_s,
                preexec_fn=_limits(memory_mb),
                env=env,
                cwd=REPO_ROOT,
            )
        except subprocess.TimeoutExpired as exc:
            raise RejectedFile(f"parsing took longer than {timeout_s:g} s and was stopped.") from exc
    finally:
        os.unlink(tmp_path)
    try:
        result = json.loads(proc.stdout)
    except json.JSONDecodeError:
        if b"MemoryError" in proc.stderr or proc.returncode in (-9, 137):
            raise RejectedFile("the file needs too much memory to parse.") from None
        raise RejectedFile("the file could not be parsed.") from None
    if not result["ok"]:
        raise RejectedFile(result["reason"])
    return Parsed(kind=result["kind"], text=result["text"])
