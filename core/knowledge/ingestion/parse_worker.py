"""Subprocess entry point: parse files under resource limits, one JSON line per request.

Reads requests ``{"path": ..., "name": ..., "max_unpacked_mb": ...}`` as JSON lines on stdin
and answers each with one JSON line on stdout, until stdin closes.
"""

import json
import sys
from pathlib import Path

from core.errors import RejectedFile
from core.knowledge.ingestion.readers import extract


def handle(request: dict) -> dict:
    try:
        data = Path(request["path"]).read_bytes()
        found = extract(request["name"], data, int(request["max_unpacked_mb"]))
        return {"ok": True, "kind": found.kind, "text": found.text, "note": found.note}
    except RejectedFile as exc:
        return {"ok": False, "reason": str(exc)}
    except MemoryError:
        return {"ok": False, "reason": "the file needs too much memory to parse."}
    except RecursionError:
        return {"ok": False, "reason": "the file is too deeply nested to parse."}


def main() -> None:
    for line in sys.stdin:
        if line.strip():
            sys.stdout.write(json.dumps(handle(json.loads(line))) + "\n")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
