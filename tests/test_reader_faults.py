"""Files that used to be misread: AES-encrypted PDFs, text in a legacy encoding, a zip bomb
whose headers lie about its size. Every file is made here, from real libraries."""

import io
import json
import struct
import subprocess
import sys
import zipfile

import pytest
from pypdf import PdfReader, PdfWriter

from core.config import REPO_ROOT
from core.demo import CORPUS_DIR
from core.errors import RejectedFile
from core.knowledge.ingestion.readers import extract
from tests.files import docx_bytes

NAIVE = "The naïve reader thinks the café’s crème brûlée costs 5 €.\nA naïve guess is not good enough.\n"
RUSSIAN = "Гарантийный срок составляет два года. Аккумулятор имеет гарантию один год.\nОбратитесь в сервисный центр.\n"


def encrypted_manual(algorithm: str, user_password: str, owner_password: str = "owner-secret") -> bytes:
    writer = PdfWriter(clone_from=PdfReader(CORPUS_DIR / "product_manual.pdf"))
    writer.encrypt(user_password=user_password, owner_password=owner_password, algorithm=algorithm)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256"])
def test_aes_pdf_with_only_an_owner_password_opens(algorithm):
    data = encrypted_manual(algorithm, user_password="")
    assert b"/AESV" in data  # really AES, not RC4
    found = extract("manual.pdf", data)
    assert found.kind == "pdf" and "AeroPure 300" in found.text


@pytest.mark.parametrize("algorithm", ["AES-128", "AES-256", "RC4-128"])
def test_pdf_that_needs_a_password_says_so(algorithm):
    with pytest.raises(RejectedFile, match="password-protected"):
        extract("locked.pdf", encrypted_manual(algorithm, user_password="open-sesame"))


@pytest.mark.parametrize("text, encoding, label", [(NAIVE, "cp1252", "Windows-1252"), (RUSSIAN, "cp1251", "Windows-1251")])
def test_legacy_encoding_is_guessed_right_and_flagged(text, encoding, label):
    found = extract("notes.txt", text.encode(encoding))
    assert found.text == text.strip()
    assert label in found.note and "guessed" in found.note


def test_short_cp1252_word_is_not_read_as_another_code_page():
    assert extract("word.txt", "naïve".encode("cp1252")).text == "naïve"  # not "naďve" (cp1250)


def test_utf8_and_utf16_carry_no_note():
    assert extract("a.txt", NAIVE.encode()).note == ""
    assert extract("b.txt", RUSSIAN.encode("utf-16")).note == ""
    assert extract("c.md", RUSSIAN.encode("utf-16")).text == RUSSIAN.strip()


def test_guessed_encoding_shows_in_the_upload_result_line(service, kb):
    results = service.ingest_files(kb, [("naive.txt", NAIVE.encode("cp1252")), ("ru.csv", ("город,цена\n" + "Москва,100\n").encode("cp1251")),
                                        ("plain.txt", b"Plain ASCII needs no guess.")])
    assert [r.status for r in results] == ["added", "added", "added"]
    assert "Windows-1252" in results[0].reason and "Windows-1251" in results[1].reason
    assert results[2].reason == ""
    doc = next(d for d in service.documents(kb) if d.name == "naive.txt")
    assert "naïve" in service.document_text(kb, doc.doc_id)


# --- a zip bomb whose headers claim a small size ---------------------------------------------
def forge_size(data: bytes, member: str, claimed: int) -> bytes:
    """Rewrite ``member``'s uncompressed size in its local and central headers to ``claimed``."""
    out = bytearray(data)
    end = out.rfind(b"PK\x05\x06")
    entries, _, start = struct.unpack_from("<HII", out, end + 10)
    pos = start
    for _ in range(entries):
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", out, pos + 28)
        if out[pos + 46: pos + 46 + name_len].decode() == member:
            local = struct.unpack_from("<I", out, pos + 42)[0]
            struct.pack_into("<I", out, pos + 24, claimed)
            struct.pack_into("<I", out, local + 22, claimed)
        pos += 46 + name_len + extra_len + comment_len
    return bytes(out)


def lying_docx_bomb(unpacked_mb: int) -> bytes:
    """A real .docx whose document.xml is followed by ``unpacked_mb`` MB of spaces, its headers
    claiming 2 KB."""
    real = zipfile.ZipFile(io.BytesIO(docx_bytes("Hello.")))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in real.infolist():
            if info.filename != "word/document.xml":
                z.writestr(info.filename, real.read(info))
                continue
            with z.open("word/document.xml", "w") as f:
                f.write(real.read(info))
                block = b" " * (1024 * 1024)
                for _ in range(unpacked_mb):
                    f.write(block)
    return forge_size(buf.getvalue(), "word/document.xml", 2048)


PEAK_RSS = """
import json, re, sys
from core.knowledge.ingestion.parse_worker import handle
answer = handle(json.loads(sys.argv[1]))
# VmHWM is this process's own peak (ru_maxrss would carry the parent's peak across exec).
peak_kb = int(re.search(r"VmHWM:\\s+(\\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"answer": answer, "peak_mb": peak_kb / 1024}))
"""


def test_zip_bomb_with_forged_sizes_is_stopped_by_counting_real_bytes(tmp_path):
    bomb = lying_docx_bomb(600)
    archive = zipfile.ZipFile(io.BytesIO(bomb))
    assert sum(i.file_size for i in archive.infolist()) < 1024 * 1024  # the headers lie
    path = tmp_path / "bomb.docx"
    path.write_bytes(bomb)
    request = json.dumps({"path": str(path), "name": "bomb.docx", "max_unpacked_mb": 200})
    # The same entry point the parser child runs, in a process of its own so its peak memory is its own.
    run = subprocess.run([sys.executable, "-c", PEAK_RSS, request], capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    result = json.loads(run.stdout)
    assert result["answer"]["ok"] is False
    assert "zip bomb" in result["answer"]["reason"]
    assert result["peak_mb"] < 250, result  # before counting real bytes, the parser reached the full 600 MB


def test_an_ordinary_docx_still_opens():
    assert "Leave is 15 days." in extract("hr.docx", docx_bytes("Leave is 15 days.")).text
