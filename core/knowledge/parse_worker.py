"""Subprocess entry point: parse one file under resource limits, print JSON to stdout.

Usage: python -m core.knowledge.parse_worker <path> <original name> <max_unpacked_mb>
"""

import json
import sys
from pathlib import Path

from core.errors import RejectedFile
from core.knowledge.readers import extract_text


def main() -> None:
    path, name, max_unpacked_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
    try:
        kind, text = extract_text(name, Path(path).read_bytes(), max_unpacked_mb)
        result = {"ok": True, "kind": kind, "text": text}
    except RejectedFile as exc:
        result = {"ok": False, "reason": str(exc)}
    except MemoryError:
        result = {"ok": False, "reason": "the file needs too much memory to parse."}
    except RecursionError:
        result = {"ok": False, "reason": "the file is too deeply nested to parse."}
    sys.stdout.write(json.dumps(result))


if __name__ == "__main__":
    main()
