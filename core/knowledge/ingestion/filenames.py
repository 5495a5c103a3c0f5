"""Make uploaded file names safe to show and store.

The name is only ever a label in the catalog: files on disk are keyed by document id, so a
hostile name cannot point outside ``data/``. This still cleans it so the label is readable.
"""

from __future__ import annotations

import re
import unicodedata

from core.errors import RejectedFile

MAX_NAME_CHARS = 120


def safe_display_name(raw: str) -> str:
    """Strip directories, control characters and excess length; keep the extension."""
    name = unicodedata.normalize("NFC", raw or "")
    name = re.sub(r"[\x00-\x1f\x7f]", "", name)
    name = re.split(r"[\\/]", name)[-1].strip().strip(".").strip()
    if not name or name in {".", ".."}:
        raise RejectedFile("the file name is empty or invalid.")
    if len(name) > MAX_NAME_CHARS:
        stem, dot, ext = name.rpartition(".")
        if dot and len(ext) <= 10:
            name = stem[: MAX_NAME_CHARS - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_NAME_CHARS]
    return name
