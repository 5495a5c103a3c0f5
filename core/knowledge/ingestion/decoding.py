"""Decode text files of unknown encoding, and say when the encoding is a guess.

UTF-8 (and UTF-16 with a byte-order mark) decode exactly. Anything else is a guess by
charset-normalizer, which on its own picks arbitrarily among single-byte code pages that
decode a short Western text equally well (it stored "naïve" as "naďve", cp1250). Among its
least-garbled candidates we keep the most language-coherent ones, then prefer the code pages
people actually write in, most common first.
"""

from __future__ import annotations

from core.errors import RejectedFile

# Most common legacy encodings first: Western European, Cyrillic, Central European.
PREFERRED = ("cp1252", "cp1251", "cp1250", "iso8859_15", "latin_1")
LABELS = {
    "cp1252": "Windows-1252 (Western European)",
    "cp1251": "Windows-1251 (Cyrillic)",
    "cp1250": "Windows-1250 (Central European)",
    "iso8859_15": "ISO-8859-15 (Western European)",
    "latin_1": "ISO-8859-1 (Western European)",
}
TIE = 0.01  # charset-normalizer's chaos and coherence scores closer than this count as equal


def guess_note(encoding: str) -> str:
    """The line an upload result shows when the encoding was guessed."""
    label = LABELS.get(encoding, encoding)
    return f"not UTF-8: the text encoding was guessed as {label}; check that accented letters read right."


def decode(data: bytes) -> tuple[str, str | None]:
    """Return (text, guessed encoding); the encoding is None when the bytes said which it is."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return data.decode("utf-16"), None
        except UnicodeDecodeError:
            pass
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        raise RejectedFile("the text encoding could not be recognised.")
    least_chaos = min(m.chaos for m in matches)
    clean = [m for m in matches if m.chaos <= least_chaos + TIE]
    most_coherent = max(m.coherence for m in clean)
    best = [m for m in clean if m.coherence >= most_coherent - TIE]
    best.sort(key=lambda m: PREFERRED.index(m.encoding) if m.encoding in PREFERRED else len(PREFERRED))
    text, encoding = str(best[0]), best[0].encoding
    # Name the most common code page that gives the very same text (cp1250 and cp1252 agree on "é").
    for common in PREFERRED:
        try:
            if data.decode(common) == text:
                return text, common
        except UnicodeDecodeError:
            continue
    return text, encoding


def decode_text(data: bytes) -> str:
    """Decode text of unknown encoding (UTF-8 first, then the best guess)."""
    return decode(data)[0]
