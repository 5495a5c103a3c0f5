"""SQLite the way every store in the lab uses it: ``Database`` is safe by construction.

One connection per store, guarded by the store's own lock, so threads (Streamlit's session
threads, the evaluation runner, a page's cancel) never interleave statements on it: Python's
``sqlite3`` connection is not safe to share unlocked, and two threads in one connection gave
"cannot start a transaction within a transaction" (875 errors in 4 threads x 300 updates).
Across processes (the job supervisor and worker, the app): WAL so readers never block the writer,
a busy timeout so a writer waits instead of failing, and ``BEGIN IMMEDIATE`` so a write takes its
lock up front (no read-then-upgrade deadlock).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

BUSY_TIMEOUT_S = 30


def now() -> str:
    """The time a store records (created, started, finished): UTC, ISO 8601, to the second."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def connect(path: Path) -> sqlite3.Connection:
    """A bare connection with the lab's settings; share it between threads only under a lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction: committed on success, rolled back on any error."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class Database:
    """One SQLite file for one store: every statement runs under the store's lock, every write in
    one ``BEGIN IMMEDIATE`` transaction. Opened once; callers never see the connection."""

    def __init__(self, path: Path, schema: str = ""):
        self.path = Path(path)
        self._conn = connect(self.path)
        self._lock = threading.RLock()  # re-entrant: a write may read what it is about to change
        if schema:
            with self._lock:
                self._conn.executescript(schema)

    def rows(self, sql: str, args: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    def one(self, sql: str, args: tuple = ()) -> sqlite3.Row | None:
        found = self.rows(sql, args)
        return found[0] if found else None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """The connection, locked, inside one write transaction (committed, or rolled back on error)."""
        with self._lock, write(self._conn) as conn:
            yield conn

    def close(self) -> None:
        with self._lock:
            self._conn.close()
