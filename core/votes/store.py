"""The votes in SQLite (``<data>/votes.db``), safe from every viewer's session thread.

One ``core.db.Database``: its own lock around one connection, WAL, writes in ``BEGIN IMMEDIATE``.
The columns a reader filters or sorts on are columns; what a vote maps (answers, letters, the
best arms, decoding settings) is JSON text, so a vote reads back exactly as it was cast.
"""

from __future__ import annotations

import json
from pathlib import Path

from core.db import Database
from core.votes.record import Vote

SCHEMA = """
CREATE TABLE IF NOT EXISTS votes (
    id TEXT PRIMARY KEY, created_at TEXT NOT NULL, session_id TEXT NOT NULL, voter TEXT NOT NULL,
    comparison_id TEXT NOT NULL, question TEXT NOT NULL, kb TEXT NOT NULL, kb_version TEXT NOT NULL,
    model TEXT NOT NULL, model_fingerprint TEXT NOT NULL, dtype TEXT NOT NULL DEFAULT 'fp32', adapter TEXT, adapter_id TEXT, adapter_fingerprint TEXT,
    decoding TEXT NOT NULL, top_k INTEGER, require_support INTEGER NOT NULL,
    answers TEXT NOT NULL, letters TEXT NOT NULL, best TEXT NOT NULL, all_bad INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS votes_by_kb ON votes (kb, created_at);
"""
JSON_FIELDS = ("decoding", "answers", "letters", "best")
FIELDS = tuple(Vote.model_fields)


class VoteStore:
    """Every vote cast in this data folder."""

    def __init__(self, path: Path):
        self.db = Database(Path(path), SCHEMA)
        columns = {r["name"] for r in self.db.rows("PRAGMA table_info(votes)")}
        if "dtype" not in columns:  # a votes.db from before the precision was recorded: its votes were all fp32
            with self.db.write() as conn:
                conn.execute("ALTER TABLE votes ADD COLUMN dtype TEXT NOT NULL DEFAULT 'fp32'")

    def add(self, vote: Vote) -> Vote:
        row = vote.model_dump()
        values = [json.dumps(row[f], ensure_ascii=False) if f in JSON_FIELDS else row[f] for f in FIELDS]
        with self.db.write() as conn:
            conn.execute(f"INSERT INTO votes ({', '.join(FIELDS)}) VALUES ({', '.join('?' * len(FIELDS))})", values)
        return vote

    def list(self, kb: str | None = None) -> list[Vote]:
        """The votes, oldest first; only those on knowledge base ``kb`` when given."""
        where, args = ("WHERE kb = ?", (kb,)) if kb is not None else ("", ())
        rows = self.db.rows(f"SELECT * FROM votes {where} ORDER BY created_at, rowid", args)
        return [Vote(**{f: json.loads(r[f]) if f in JSON_FIELDS else r[f] for f in FIELDS}) for r in rows]

    def count(self, kb: str | None = None) -> int:
        where, args = ("WHERE kb = ?", (kb,)) if kb is not None else ("", ())
        return self.db.one(f"SELECT COUNT(*) AS n FROM votes {where}", args)["n"]

    def close(self) -> None:
        self.db.close()
