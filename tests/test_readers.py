"""Parsing each supported format, and a one-line reason for each kind of bad file."""

import pytest

from core.demo import CORPUS_DIR
from core.errors import RejectedFile
from core.knowledge.ingestion.readers import extract_text
from tests.files import blank_pdf, docx_bytes, docx_zip_bomb


def test_markdown_and_text_pass_through():
    assert extract_text("a.md", b"# Title\n\nBody text.") == ("markdown", "# Title\n\nBody text.")
    assert extract_text("a.txt", "caf\u00e9".encode()) == ("text", "caf\u00e9")


def test_non_utf8_text_is_decoded_by_detected_encoding():
    korean = "무상 보증 기간은 2년입니다. 배터리는 1년입니다. 서비스센터에 문의하세요." * 3
    kind, text = extract_text("ko.txt", korean.encode("cp949"))
    assert "보증 기간" in text
    _, latin = extract_text("fr.txt", "Le délai de rétractation est de quatorze jours.".encode("latin-1"))
    assert "délai" in latin


def test_html_drops_scripts_and_keeps_headings():
    html = b"<html><head><title>t</title><script>var secret='XYZ';</script></head><body><nav>Menu</nav>" \
           b"<h2>Returns</h2><p>Within 14 days.</p></body></html>"
    kind, text = extract_text("faq.html", html)
    assert kind == "html"
    assert "## Returns" in text and "Within 14 days." in text
    assert "XYZ" not in text and "Menu" not in text


def test_csv_rows_become_self_contained_lines():
    _, text = extract_text("prices.csv", b"sku,product,price\nK1,Kettle,39\nP3,Purifier,199\n")
    assert text.splitlines() == ["sku: K1; product: Kettle; price: 39", "sku: P3; product: Purifier; price: 199"]


def test_docx_keeps_headings_and_paragraphs():
    kind, text = extract_text("hr.docx", docx_bytes("Annual leave is 15 days.", heading="Leave"))
    assert kind == "docx"
    assert text.startswith("# Leave") and "Annual leave is 15 days." in text


def test_demo_pdf_extracts():
    kind, text = extract_text("manual.pdf", (CORPUS_DIR / "product_manual.pdf").read_bytes())
    assert kind == "pdf" and "AeroPure 300" in text


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("empty.txt", b"", "empty"),
        ("blank.md", b"   \n\n  ", "no text"),
        ("scan.pdf", blank_pdf(), "scanned PDF"),
        ("locked.pdf", blank_pdf(password="s3cret"), "password"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >>\ngarbage without xref", "damaged"),
        ("fake.pdf", b"just some text pretending", "not a PDF"),
        ("fake.docx", b"plain text, not a zip", "not a Word document"),
        ("program.txt", b"\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00" + bytes(range(256)) * 4, "binary"),
        ("archive.md", b"PK\x03\x04" + b"\x00" * 64, "binary"),
        ("tool.exe", b"MZ\x90\x00", "unsupported file type"),
        ("noext", b"hello", "unsupported file type"),
        ("bomb.docx", docx_zip_bomb(), "zip bomb"),
    ],
)
def test_bad_files_are_rejected_with_a_plain_reason(name, data, reason):
    with pytest.raises(RejectedFile, match=reason) as info:
        extract_text(name, data)
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
