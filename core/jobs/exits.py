"""What a job record says when its worker process ended without writing its own status.

A SIGKILL is "out of memory" only when the kernel's OOM killer did it, and that is read, not
guessed: the kernel counts its OOM kills, per memory cgroup (cgroup v2 ``memory.events``, v1
``memory.oom_control``: the container's memory limit) and machine-wide (``/proc/vmstat``). The
supervisor reads the counters before starting a worker and after it exits; a kill while a counter
went up is reported as out of memory, any other signal as "killed by a signal" with its name.
Where no counter can be read, the record says that it cannot tell. (An OOM kill of another process
in the same window would be blamed on this one; on a lab machine that is rare and worth a look.)
"""

from __future__ import annotations

import signal
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _counter(path: Path, key: str) -> int | None:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        return None
    return None


def _cgroup_files() -> list[Path]:
    """This process's memory cgroup counter files (v2 and v1), under their path or at the root (in
    a container the cgroup is usually mounted as the root)."""
    files = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, rel = line.split(":", 2)
        if controllers == "":
            files += [CGROUP_ROOT / rel.lstrip("/") / "memory.events", CGROUP_ROOT / "memory.events"]
        elif "memory" in controllers.split(","):
            base = CGROUP_ROOT / "memory"
            files += [base / rel.lstrip("/") / "memory.oom_control", base / "memory.oom_control"]
    return list(dict.fromkeys(files))


def oom_kills() -> int | None:
    """The kernel's OOM kills seen from here (cgroup plus machine-wide), or None if none can be read."""
    found = [c for f in _cgroup_files() if f.is_file() and (c := _counter(f, "oom_kill")) is not None]
    machine = _counter(Path("/proc/vmstat"), "oom_kill")
    counts = found[:1] + ([machine] if machine is not None else [])
    return sum(counts) if counts else None


def exit_message(code: int, oom_before: int | None, oom_after: int | None, what: str = "training process") -> str:
    """One sentence for a worker that exited with ``code`` without recording how it ended."""
    if code >= 0:
        return f"failed: the {what} exited with code {code}; see its log"
    try:
        name = signal.Signals(-code).name
    except ValueError:  # a number no signal of this platform has
        name = f"signal {-code}"
    if oom_before is not None and oom_after is not None and oom_after > oom_before:
        return f"failed: out of memory (the kernel's OOM killer stopped the {what})"
    known = "" if oom_before is not None and oom_after is not None else \
        "; whether memory ran out cannot be told on this machine"
    return f"failed: the {what} was killed by a signal ({name}), not by the lab{known}"
