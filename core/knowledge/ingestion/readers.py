"""Turn the bytes of an uploaded file into plain text.

Runs inside the parsing subprocess (see ``sandbox.py``): it must stay light to import and
must only raise ``RejectedFile`` for anything a user can fix.
"""

from __future__ import annotations

import csv
import copy
import io
import zipfile
import zlib
from dataclasses import dataclass

from core.errors import RejectedFile
from core.knowledge.ingestion.decoding import decode, decode_text, guess_note

__all__ = ["Extracted", "decode_text", "extract", "extract_text", "kind_for_name", "TEXT_KINDS"]

# extension -> kind; the file's bytes must agree with the kind (checked in ``detect_kind``).
KINDS = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".html": "html",
    ".htm": "html",
    ".csv": "csv",
}
TEXT_KINDS = {"markdown", "text", "html", "csv"}


def kind_for_name(name: str) -> str:
    suffix = "." + name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in KINDS:
        allowed = ", ".join(sorted({k.lstrip(".").upper() for k in KINDS}))
        raise RejectedFile(f"unsupported file type '{suffix or 'none'}' (use {allowed}).")
    return KINDS[suffix]


def detect_kind(name: str, data: bytes) -> str:
    """The kind the extension promises, after checking the bytes really are that kind."""
    kind = kind_for_name(name)
    if not data:
        raise RejectedFile("the file is empty.")
    is_pdf = data[:1024].lstrip().startswith(b"%PDF")
    is_zip = data[:4] == b"PK\x03\x04"
    if kind == "pdf" and not is_pdf:
        raise RejectedFile("the file is named .pdf but is not a PDF.")
    if kind == "docx" and not is_zip:
        raise RejectedFile("the file is named .docx but is not a Word document.")
    if kind in TEXT_KINDS and (is_pdf or is_zip or b"\x00" in data[:8192] and not _is_utf16(data)):
        raise RejectedFile(f"the file is named .{name.rsplit('.', 1)[-1]} but holds binary data.")
    return kind


def _is_utf16(data: bytes) -> bool:
    return data[:2] in (b"\xff\xfe", b"\xfe\xff")


def read_pdf(data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise RejectedFile("the PDF is password-protected.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except RejectedFile:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise RejectedFile("the PDF is damaged and could not be read.") from exc
    except Exception as exc:  # pypdf raises many types on hostile input; none is the user's fault to debug
        if "encrypt" in str(exc).lower() or "decrypt" in str(exc).lower():
            raise RejectedFile("the PDF is encrypted and could not be read.") from exc
        raise RejectedFile("the PDF is damaged and could not be read.") from exc
    return "\n\n".join(p.strip() for p in pages)


MAX_ZIP_RATIO = 200  # unpacked bytes per packed byte; real .docx files stay under ~20


def _check_zip(data: bytes, max_unpacked_mb: int) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise RejectedFile("the Word document is damaged (not a valid archive).") from exc
    limit = min(max_unpacked_mb * 1024 * 1024, MAX_ZIP_RATIO * max(len(data), 1))
    bomb = RejectedFile("the Word document unpacks to an unsafe size (possible zip bomb).")
    if sum(info.file_size for info in archive.infolist()) > limit:
        raise bomb
    if "word/document.xml" not in archive.namelist():
        raise RejectedFile("the file is named .docx but is not a Word document.")
    # The sizes above are what the headers claim, and headers can lie: count the bytes that
    # really come out, a megabyte at a time, and stop at the limit.
    unpacked = 0
    try:
        for info in archive.infolist():
            honest = copy.copy(info)
            honest.file_size = 1 << 62  # zipfile would stop at the claimed size: let the data speak
            with archive.open(honest) as member:
                while chunk := member.read(1024 * 1024):
                    unpacked += len(chunk)
                    if unpacked > limit:
                        raise bomb
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
        raise RejectedFile("the Word document is damaged and could not be read.") from exc
    return archive


def read_docx(data: bytes, max_unpacked_mb: int = 200) -> str:
    _check_zip(data, max_unpacked_mb)
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:  # python-docx wraps lxml/zip errors in several types
        raise RejectedFile("the Word document is damaged and could not be read.") from exc
    lines: list[str] = []
    for para in document.paragraphs:
        text = para.text.strip()
        if not text:
            continue
        style = (para.style.name or "").lower() if para.style is not None else ""
        if style.startswith("heading") or style == "title":
            level = int(style[-1]) if style[-1:].isdigit() else 1
            text = "#" * min(level, 6) + " " + text
        lines.append(text)
    for table in document.tables:
        for row in table.rows:
            cells = [c.text.strip() for c in row.cells]
            if any(cells):
                lines.append(" | ".join(cells))
    return "\n\n".join(lines)


def read_html(data: bytes | str) -> str:
    from core.knowledge.ingestion.html_text import html_to_text

    return html_to_text(data if isinstance(data, str) else decode_text(data))


def read_csv(data: bytes | str) -> str:
    """One line per row, 'column: value' pairs, so each row reads as a self-contained fact."""
    text = data if isinstance(data, str) else decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = list(csv.reader(io.StringIO(text), dialect))
    rows = [r for r in rows if any(cell.strip() for cell in r)]
    if not rows:
        return ""
    header, body = rows[0], rows[1:]
    if not body:
        return " | ".join(header)
    lines = []
    for row in body:
        pairs = [f"{h.strip()}: {v.strip()}" for h, v in zip(header, row) if v.strip()]
        lines.append("; ".join(pairs))
    return "\n".join(lines)


@dataclass(frozen=True)
class Extracted:
    kind: str
    text: str
    note: str = ""  # something the user should check, e.g. a guessed text encoding


def extract(name: str, data: bytes, max_unpacked_mb: int = 200) -> Extracted:
    """The kind, text and any caveat of an uploaded file, or ``RejectedFile`` with the reason."""
    kind = detect_kind(name, data)
    note = ""
    if kind == "pdf":
        text = read_pdf(data)
    elif kind == "docx":
        text = read_docx(data, max_unpacked_mb)
    else:
        text, guessed = decode(data)
        note = guess_note(guessed) if guessed else ""
        text = read_html(text) if kind == "html" else read_csv(text) if kind == "csv" else text
    text = text.replace("\x00", "").replace("\r\n", "\n").strip()
    if not text:
        hint = " (a scanned PDF needs OCR first)" if kind == "pdf" else ""
        raise RejectedFile(f"no text could be extracted{hint}.")
    return Extracted(kind, text, note)


def extract_text(name: str, data: bytes, max_unpacked_mb: int = 200) -> tuple[str, str]:
    """Return (kind, text) for an uploaded file, or raise ``RejectedFile`` with the reason."""
    found = extract(name, data, max_unpacked_mb)
    return found.kind, found.text
