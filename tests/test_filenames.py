import pytest

from core.errors import RejectedFile
from core.knowledge.ingestion.filenames import MAX_NAME_CHARS, safe_display_name


def test_directory_parts_are_dropped():
    assert safe_display_name("../../etc/passwd.txt") == "passwd.txt"
    assert safe_display_name("..\\..\\win.ini.txt") == "win.ini.txt"


def test_control_characters_and_nul_bytes_are_removed():
    assert safe_display_name("re\x00port\x07.md") == "report.md"


def test_long_names_are_cut_keeping_the_extension():
    name = safe_display_name("a" * 300 + ".pdf")
    assert len(name) == MAX_NAME_CHARS and name.endswith(".pdf")


@pytest.mark.parametrize("raw", ["", "..", "../", "\x00\x00", "  "])
def test_names_with_nothing_left_are_rejected(raw):
    with pytest.raises(RejectedFile):
        safe_display_name(raw)
