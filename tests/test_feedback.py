"""Feedback documents: Markdown and HTML rendering, file names, atomic rewrites."""

from __future__ import annotations

from pathlib import Path

from gradebot_cli.publishing.feedback import Block, to_html, to_markdown
from gradebot_cli.publishing.local import _write_if_changed, file_stem

BLOCKS = [
    Block("title", "Feedback: Essay <1>"),
    Block("paragraph", "Score: 3 / 4"),
    Block("heading", "Strengths"),
    Block("bullet", "Uses *specific* details"),
    Block("bullet", "Clear [claim]"),
    Block("heading", "Overall"),
    Block("quote", "I think 😀 学校 & <b>bold</b>"),
]


def test_markdown_escapes_markup() -> None:
    text = to_markdown(BLOCKS)
    assert "# Feedback: Essay \\<1\\>" in text
    assert "- Uses \\*specific\\* details" in text
    assert "- Clear \\[claim\\]" in text
    assert "> I think 😀 学校 & \\<b\\>bold\\</b\\>" in text


def test_markdown_list_ends_with_blank_line() -> None:
    lines = to_markdown(BLOCKS).splitlines()
    index = lines.index("- Clear \\[claim\\]")
    assert lines[index + 1] == ""
    assert lines[index + 2] == "## Overall"


def test_html_escapes_and_lists() -> None:
    page = to_html(BLOCKS, page_title="Essay & more")
    assert "<title>Essay &amp; more</title>" in page
    assert "<h1>Feedback: Essay &lt;1&gt;</h1>" in page
    assert (
        "<ul>\n<li>Uses *specific* details</li>\n<li>Clear [claim]</li>\n</ul>" in page
    )
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert '<meta charset="utf-8">' in page


def test_file_stem_keeps_letters() -> None:
    assert file_stem("Zoë Nakamura") == "Zoë-Nakamura"
    assert file_stem("王小明") == "王小明"
    assert file_stem("../../etc/passwd") == "etc-passwd"
    assert file_stem("   ") == "student"


def test_rewrite_only_when_changed(tmp_path: Path) -> None:
    path = tmp_path / "a.md"
    assert _write_if_changed(path, "one")
    assert not _write_if_changed(path, "one")
    assert _write_if_changed(path, "two")
    assert path.read_text(encoding="utf-8") == "two"
    assert [p.name for p in tmp_path.iterdir()] == ["a.md"]
