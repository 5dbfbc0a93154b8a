"""Feedback as a small document model, rendered to Markdown, HTML or Google Docs.

A feedback document is a list of blocks (headings, paragraphs, bullets, quotes), so
every destination renders the same content: local Markdown and HTML files, a new
Google Doc, or a section appended to the student's own Doc.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Literal

from gradebot_cli.rubric import Rubric
from gradebot_cli.storage.store import GradeDetail

BlockKind = Literal["title", "heading", "paragraph", "bullet", "quote"]


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    text: str


def _points(value: float | None) -> str:
    if value is None:
        return "-"
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def feedback_blocks(title: str, rubric: Rubric, detail: GradeDetail) -> list[Block]:
    """Build the feedback document for one graded submission."""
    grade = detail.grade
    blocks = [
        Block("title", f"Feedback: {title}"),
        Block("paragraph", f"Student: {detail.submission.student}"),
        Block(
            "paragraph",
            f"Score: {_points(grade['total'])} / {_points(grade['maximum'])}",
        ),
    ]
    if grade["status"] == "needs_review":
        blocks.append(
            Block(
                "quote",
                f"Needs teacher review before sharing: {grade['review_reason']}",
            )
        )
    for score in detail.scores:
        criterion = rubric.criterion(score["criterion_id"])
        name = criterion.name if criterion else score["criterion_id"]
        blocks.append(
            Block(
                "heading",
                f"{name}: {score['level']} ({_points(score['points'])}/"
                f"{_points(score['max_points'])})",
            )
        )
        blocks.append(Block("paragraph", score["rationale"]))
        for quote in json.loads(score["evidence_json"] or "[]"):
            blocks.append(Block("quote", quote))
    blocks.extend(_list_section("Strengths", grade["strengths_json"]))
    blocks.extend(_list_section("Next steps", grade["growth_areas_json"]))
    blocks.append(Block("heading", "Overall"))
    blocks.append(Block("paragraph", grade["overall_feedback"]))
    return blocks


def _list_section(heading: str, items_json: str | None) -> list[Block]:
    items = json.loads(items_json or "[]")
    if not items:
        return []
    return [Block("heading", heading), *(Block("bullet", item) for item in items)]


def _md_escape(text: str) -> str:
    # Student quotes and model text are shown literally, not as Markdown markup.
    for char in "\\`*_[]<>#":
        text = text.replace(char, "\\" + char)
    return text


def to_markdown(blocks: list[Block]) -> str:
    lines: list[str] = []
    previous: BlockKind | None = None
    for block in blocks:
        text = _md_escape(block.text)
        if previous == "bullet" and block.kind != "bullet":
            lines.append("")  # a blank line ends the list
        if block.kind == "title":
            lines += [f"# {text}", ""]
        elif block.kind == "heading":
            lines += [f"## {text}", ""]
        elif block.kind == "bullet":
            lines.append(f"- {text}")
        elif block.kind == "quote":
            lines += [f"> {line}" for line in text.splitlines() or [""]]
            lines.append("")
        else:
            lines += [text, ""]
        previous = block.kind
    return "\n".join(lines).rstrip() + "\n"


def to_html(blocks: list[Block], *, page_title: str) -> str:
    body: list[str] = []
    in_list = False
    for block in blocks:
        text = html.escape(block.text)
        if block.kind == "bullet" and not in_list:
            body.append("<ul>")
            in_list = True
        elif block.kind != "bullet" and in_list:
            body.append("</ul>")
            in_list = False
        if block.kind == "title":
            body.append(f"<h1>{text}</h1>")
        elif block.kind == "heading":
            body.append(f"<h2>{text}</h2>")
        elif block.kind == "bullet":
            body.append(f"<li>{text}</li>")
        elif block.kind == "quote":
            body.append(f"<blockquote>{text}</blockquote>")
        else:
            body.append(f"<p>{text}</p>")
    if in_list:
        body.append("</ul>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(page_title)}</title>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
