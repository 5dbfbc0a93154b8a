"""Publishing feedback to the fake Drive and Docs: both modes, idempotence, faults."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from gradebot_cli.assignment import Assignment, PublishSpec, SourceSpec
from gradebot_cli.domain import CriterionScore, Grade, SourceItem, Status
from gradebot_cli.google.append import section_paragraphs
from gradebot_cli.google.markers import (
    ASSIGNMENT_PROPERTY,
    SUBMISSION_PROPERTY,
    feedback_range_name,
)
from gradebot_cli.google.publish import publish_assignment
from gradebot_cli.google.utf16 import docs_text, utf16_len
from gradebot_cli.grading.service import register_assignment
from gradebot_cli.publishing.feedback import feedback_blocks
from gradebot_cli.rubric import rubric_from_dict
from gradebot_cli.storage import Store
from gradebot_cli.storage.store import GradeMeta, grade_detail
from tests.fakes.google_api import FakeGoogle
from tests.test_google_auth import google, sign_in

__all__ = ["google"]

RUBRIC = rubric_from_dict(
    {
        "title": "Letter",
        "criteria": [
            {
                "id": "ideas",
                "name": "Ideas",
                "levels": [
                    {"label": "Developing", "points": 1, "descriptor": "Vague."},
                    {"label": "Strong", "points": 2, "descriptor": "Clear."},
                ],
            }
        ],
    }
)
EMOJI_FEEDBACK = "Great work 🎉 — très bien, 很好, ممتاز 👩‍👩‍👧!"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = Store(tmp_path / "gradebot.db")
    yield opened
    opened.close()


def make_assignment(google: FakeGoogle, mode: str, **publish: Any) -> Assignment:
    folder = google.add_folder("Feedback") if mode == "doc" else ""
    return Assignment(
        id="letters-1234abcd",
        title="Persuasive letter",
        instructions="Write a letter.",
        rubric=RUBRIC,
        source=SourceSpec(kind="drive", drive_folder="1" + "x" * 30),
        output_dir=Path("unused"),
        publish=PublishSpec(mode=mode, drive_folder=folder, **publish),
    )


def add_grade(
    store: Store,
    assignment: Assignment,
    key: str,
    student: str,
    *,
    email: str = "",
    overall: str = EMOJI_FEEDBACK,
    status: Status = Status.GRADED,
) -> int:
    register_assignment(store, assignment)
    item = SourceItem(key, student, f"{student}.doc", "fp", student_email=email)
    submission_id = store.upsert_submission(
        assignment.id, item, content_hash="h", status=Status.PENDING
    )
    grade = Grade(
        scores=(
            CriterionScore(
                "ideas", "Strong", 2, 2, "Clear reasons 👍.", ("My reasons",)
            ),
        ),
        strengths=("A clear opening.", "Vivid examples 🌍."),
        growth_areas=("Add a counter-argument.",),
        overall_feedback=overall,
    )
    meta = GradeMeta("claude-test", "p1", RUBRIC.version, "{}", "")
    store.save_grade(submission_id, "h", grade, meta, status)
    return submission_id


def expected_text(store: Store, assignment: Assignment, submission_id: int) -> str:
    detail = grade_detail(store, submission_id)
    assert detail is not None
    blocks = feedback_blocks(assignment.title, assignment.rubric, detail)
    return "\n".join(block.text for block in blocks)


def feedback_docs(google: FakeGoogle, folder: str) -> list[Any]:
    return [f for f in google.children(folder) if not f.trashed]


# -- UTF-16 ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "units"),
    [
        ("", 0),
        ("abc", 3),
        ("très 很好 ممتاز", 13),
        ("😀", 2),
        ("👩‍👩‍👧", 8),
        ("🇫🇷", 4),
        ("e\u0301", 2),
        ("𝔘", 2),
    ],
)
def test_utf16_len(text: str, units: int) -> None:
    assert utf16_len(text) == units


def test_docs_text_keeps_one_paragraph() -> None:
    assert docs_text("line one\r\nline two\x07\ue000!") == "line one\u000bline two!"


# -- mode "doc" ---------------------------------------------------------------------


def test_doc_created_with_exact_text(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "doc")
    first = add_grade(store, assignment, "1" + "a" * 40, "Ana López")
    second = add_grade(store, assignment, "1" + "b" * 40, "Chen Wei", overall="Clear.")
    folder = assignment.publish.drive_folder

    report = publish_assignment(assignment, store)

    docs = {
        f.app_properties[SUBMISSION_PROPERTY]: f for f in feedback_docs(google, folder)
    }
    assert report.published == 2
    assert google.doc_text(docs["1" + "a" * 40].id) == expected_text(
        store, assignment, first
    )
    assert google.doc_text(docs["1" + "b" * 40].id) == expected_text(
        store, assignment, second
    )
    assert docs["1" + "a" * 40].app_properties[ASSIGNMENT_PROPERTY] == assignment.id
    headings = [p.style for p in google.doc_paragraphs(docs["1" + "a" * 40].id)]
    assert headings[0] == "HEADING_1"
    assert "HEADING_2" in headings


def test_doc_republish_no_duplicate(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "doc")
    sid = add_grade(store, assignment, "1" + "a" * 40, "Ana López")
    folder = assignment.publish.drive_folder
    publish_assignment(assignment, store)
    google.clear_requests()

    unchanged = publish_assignment(assignment, store)
    add_grade(store, assignment, "1" + "a" * 40, "Ana López", overall="Revised 📝.")
    updated = publish_assignment(assignment, store)

    docs = feedback_docs(google, folder)
    assert unchanged.counts() == {"unchanged": 1}
    assert updated.counts() == {"updated": 1}
    assert len(docs) == 1
    assert google.doc_text(docs[0].id) == expected_text(store, assignment, sid)
    assert google.doc_text(docs[0].id).endswith("Revised 📝.")


def test_doc_found_after_database_loss(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "doc")
    add_grade(store, assignment, "1" + "a" * 40, "Ana López")
    folder = assignment.publish.drive_folder
    publish_assignment(assignment, store)
    with store.transaction() as db:
        db.execute("delete from publications")

    report = publish_assignment(assignment, store)

    assert report.counts() == {"updated": 1}
    assert len(feedback_docs(google, folder)) == 1


def test_trashed_doc_recreated(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "doc")
    add_grade(store, assignment, "1" + "a" * 40, "Ana López")
    folder = assignment.publish.drive_folder
    publish_assignment(assignment, store)
    google.trash(feedback_docs(google, folder)[0].id)

    report = publish_assignment(assignment, store, force=True)

    assert report.counts() == {"created": 1}
    assert len(feedback_docs(google, folder)) == 1


def test_needs_review_held_back(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "doc")
    add_grade(store, assignment, "1" + "a" * 40, "Ana", status=Status.NEEDS_REVIEW)

    held = publish_assignment(assignment, store)
    included = publish_assignment(assignment, store, include_needs_review=True)

    assert held.counts() == {"skipped": 1}
    assert "--include-needs-review" in held.outcomes[0].reason
    assert included.counts() == {"created": 1}


def test_share_once_with_student(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "doc", share_with_student=True)
    add_grade(store, assignment, "1" + "a" * 40, "Ana", email="ana@school.example")
    add_grade(store, assignment, "1" + "b" * 40, "Ben")

    first = publish_assignment(assignment, store)
    add_grade(
        store,
        assignment,
        "1" + "a" * 40,
        "Ana",
        email="ana@school.example",
        overall="New.",
    )
    publish_assignment(assignment, store)

    outcomes = {o.student: o for o in first.outcomes}
    assert outcomes["Ana"].shared_with == "ana@school.example"
    assert outcomes["Ben"].shared_with == ""
    assert "no e-mail address" in outcomes["Ben"].reason
    assert [address for _, address, _ in google.notifications] == ["ana@school.example"]


def test_dry_run_writes_nothing(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "doc")
    add_grade(store, assignment, "1" + "a" * 40, "Ana López")
    google.clear_requests()

    report = publish_assignment(assignment, store, dry_run=True)

    outcome = report.outcomes[0]
    assert google.requests == []
    assert outcome.result == "would create"
    assert outcome.target.startswith("new Doc in folder ")
    assert outcome.preview[:2] == ("Feedback: Persuasive letter", "Student: Ana López")


def test_create_rate_limit_retried(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "doc")
    add_grade(store, assignment, "1" + "a" * 40, "Ana")
    google.fail(
        "POST",
        "^/upload/drive/v3/files$",
        status=429,
        reason="rateLimitExceeded",
        count=2,
    )

    report = publish_assignment(assignment, store)

    assert report.counts() == {"created": 1}
    assert len(feedback_docs(google, assignment.publish.drive_folder)) == 1


def test_create_server_error_not_resent(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "doc")
    add_grade(store, assignment, "1" + "a" * 40, "Ana")
    add_grade(store, assignment, "1" + "b" * 40, "Ben")
    google.fail("POST", "^/upload/drive/v3/files$", status=500, count=1)

    report = publish_assignment(assignment, store)

    creates = google.requests_to("POST", "^/upload/drive/v3/files$")
    assert report.counts() == {"failed": 1, "created": 1}
    assert "HTTP 500" in report.failed[0].reason
    assert len(creates) == 2


# -- mode "append" ------------------------------------------------------------------


STUDENT_TEXT = ["Mi carta 📮", "Dear board, 学校 should change.", "Thank you 🙏"]


def student_doc(google: FakeGoogle, *, last_bullet: bool = False) -> str:
    paragraphs: list[Any] = [("HEADING_1", STUDENT_TEXT[0]), STUDENT_TEXT[1]]
    paragraphs.append(("bullet", STUDENT_TEXT[2]) if last_bullet else STUDENT_TEXT[2])
    return google.add_doc("Letter", paragraphs=paragraphs)


def test_append_exact_text_with_emoji(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "append")
    doc = student_doc(google)
    sid = add_grade(store, assignment, doc, "Ana López")

    report = publish_assignment(assignment, store)

    section = expected_text(store, assignment, sid)
    assert report.counts() == {"created": 1}
    assert google.doc_text(doc) == "\n".join(STUDENT_TEXT) + "\n" + section
    ranges = google.named_ranges(doc)[feedback_range_name(assignment.id, section)]
    start = utf16_len("\n".join(STUDENT_TEXT)) + 2
    assert ranges == [(start, start + utf16_len(section))]


def test_append_styles_and_student_paragraphs(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "append")
    doc = student_doc(google, last_bullet=True)
    add_grade(store, assignment, doc, "Ana López")

    publish_assignment(assignment, store)

    paragraphs = google.doc_paragraphs(doc)
    assert (paragraphs[2].text, paragraphs[2].list_kind) == (STUDENT_TEXT[2], "bullet")
    assert (paragraphs[3].style, paragraphs[3].list_kind) == ("HEADING_1", None)
    bullets = [p.text for p in paragraphs[3:] if p.list_kind == "bullet"]
    assert bullets == [
        "A clear opening.",
        "Vivid examples 🌍.",
        "Add a counter-argument.",
    ]
    assert paragraphs[-1].list_kind is None
    assert paragraphs[-1].style == "NORMAL_TEXT"


def test_append_republish_replaces(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "append")
    doc = student_doc(google)
    add_grade(store, assignment, doc, "Ana López")
    publish_assignment(assignment, store)
    end = google.document(doc).end_index
    google.document(doc).insert(end - 1, "\nP.S. I added this later ✍️")

    sid = add_grade(store, assignment, doc, "Ana López", overall="Second look 🔍.")
    report = publish_assignment(assignment, store)
    again = publish_assignment(assignment, store)

    section = expected_text(store, assignment, sid)
    text = google.doc_text(doc)
    assert report.counts() == {"updated": 1}
    assert again.counts() == {"unchanged": 1}
    assert (
        text == "\n".join(STUDENT_TEXT) + "\n" + section + "\nP.S. I added this later ✍️"
    )
    assert text.count("Feedback: Persuasive letter") == 1
    assert list(google.named_ranges(doc)) == [
        feedback_range_name(assignment.id, section)
    ]


def test_append_edited_section_kept(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "append")
    doc = student_doc(google)
    add_grade(store, assignment, doc, "Ana López")
    publish_assignment(assignment, store)
    inside = utf16_len("\n".join(STUDENT_TEXT)) + 2 + len("Feedback")
    google.document(doc).insert(inside, " (my question: why?)")
    edited = google.doc_text(doc)

    add_grade(store, assignment, doc, "Ana López", overall="Second look.")
    kept = publish_assignment(assignment, store)
    replaced = publish_assignment(assignment, store, force=True)

    assert kept.counts() == {"skipped": 1}
    assert "was edited after gradebot wrote it" in kept.outcomes[0].reason
    assert "--force" in kept.outcomes[0].reason
    assert replaced.counts() == {"updated": 1}
    assert "my question" in edited
    assert "my question" not in google.doc_text(doc)
    assert google.doc_text(doc).endswith("Second look.")


def test_append_section_text_is_blocks() -> None:
    blocks = feedback_blocks(
        "T",
        RUBRIC,
        _detail_stub(),
    )

    paragraphs = section_paragraphs(blocks)

    assert [p.text for p in paragraphs] == [
        b.text.replace("\n", "\u000b") for b in blocks
    ]
    assert "Two\u000blines" in [p.text for p in paragraphs]


def test_append_skips_non_doc(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "append")
    upload = google.add_file("letter.docx", b"PK\x03\x04")
    add_grade(store, assignment, upload, "Ben")

    report = publish_assignment(assignment, store)

    assert report.counts() == {"skipped": 1}
    assert "is not a Google Doc" in report.outcomes[0].reason


def test_append_reads_again_after_conflict(google: FakeGoogle, store: Store) -> None:
    sign_in(google)
    assignment = make_assignment(google, "append")
    doc = student_doc(google)
    add_grade(store, assignment, doc, "Ana López")
    conflict = {
        "error": {
            "code": 400,
            "message": "Revision changed.",
            "status": "FAILED_PRECONDITION",
        }
    }
    google.fail("POST", ":batchUpdate$", status=400, body=conflict)

    report = publish_assignment(assignment, store)

    assert report.counts() == {"created": 1}
    assert len(google.requests_to("GET", "^/v1/documents/")) == 2
    assert google.doc_text(doc).count("Feedback: Persuasive letter") == 1


def test_append_mode_without_scope(google: FakeGoogle, store: Store) -> None:
    from gradebot_cli.errors import GoogleAuthError
    from gradebot_cli.google import scopes

    sign_in(google, granted=scopes.for_features(["read", "doc"]))
    assignment = make_assignment(google, "append")
    add_grade(store, assignment, student_doc(google), "Ana López")

    with pytest.raises(GoogleAuthError) as caught:
        publish_assignment(assignment, store)

    assert "gradebot auth login --for read --for append" in str(caught.value)


def _detail_stub() -> Any:
    from gradebot_cli.storage.store import GradeDetail, SubmissionRow

    row = SubmissionRow(1, "a", "k", "Zoë", "", "f", "fp", "h", Status.GRADED, "", 1)
    grade = {
        "status": "graded",
        "total": 2.0,
        "maximum": 2.0,
        "review_reason": "",
        "strengths_json": '["Tabs\\tinside", "Two\\nlines"]',
        "growth_areas_json": "[]",
        "overall_feedback": "Fine 👍",
    }
    score = {
        "criterion_id": "ideas",
        "level": "Strong",
        "points": 2.0,
        "max_points": 2.0,
        "rationale": "Because.",
        "evidence_json": '["quoted 😀"]',
    }
    return GradeDetail(replace(row), grade, [score])
