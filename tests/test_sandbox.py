"""Untrusted files are parsed in a subprocess with a time and memory limit."""

import pytest

from core.errors import RejectedFile
from core.knowledge.ingestion.sandbox import parse_file
from tests.files import docx_bytes


def parse(tmp_path, name, data, **limits):
    options = {"timeout_s": 30, "memory_mb": 1536, "max_unpacked_mb": 200, **limits}
    return parse_file(name, data, tmp_path, **options)


def test_parses_in_a_subprocess_and_cleans_up(tmp_path):
    parsed = parse(tmp_path, "hr.docx", docx_bytes("Sick days: 10 per year."))
    assert parsed.kind == "docx" and "Sick days: 10" in parsed.text
    assert list(tmp_path.iterdir()) == []  # the temporary copy is gone


def test_reason_from_the_worker_reaches_the_caller(tmp_path):
    with pytest.raises(RejectedFile, match="not a PDF"):
        parse(tmp_path, "x.pdf", b"hello")


def test_time_limit_stops_the_parse(tmp_path):
    with pytest.raises(RejectedFile, match="longer than"):
        parse(tmp_path, "a.txt", b"hello", timeout_s=0.01)
    assert list(tmp_path.iterdir()) == []


def test_memory_limit_stops_the_parse(tmp_path):
    # Decoding 60 MB of text needs several copies of it: far over a 160 MB address space.
    # The child runs out, the caller gets a reason instead of a crash.
    with pytest.raises(RejectedFile, match="too much memory"):
        parse(tmp_path, "a.md", b"ab " * 20_000_000, memory_mb=160)
    assert parse(tmp_path, "a.md", b"# small", memory_mb=160).text == "# small"


def test_one_parser_serves_a_batch_and_recovers_from_a_dead_child(tmp_path):
    from core.knowledge.ingestion.sandbox import Parser

    with Parser(tmp_path, timeout_s=30, memory_mb=160, max_unpacked_mb=200) as parser:
        assert parser.parse("a.md", b"first").text == "first"
        first_child = parser._proc.pid
        assert parser.parse("b.md", b"second").text == "second"
        assert parser._proc.pid == first_child  # same process for the whole batch
        with pytest.raises(RejectedFile, match="too much memory"):
            parser.parse("huge.md", b"ab " * 20_000_000)
        parser._proc.kill()  # a crash between files
        parser._proc.wait()
        assert parser.parse("c.md", b"third").text == "third"
        assert parser._proc.pid != first_child
