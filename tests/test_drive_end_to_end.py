"""A 30-essay class read from Drive, graded, and published in both modes.

The 30 anonymised ASAP essays of the shared class go into a fake Drive folder
as Google Docs, .docx and PDF files, one reached through a shortcut, beside a
trashed draft and a Sheet. Each essay starts with its file stem, so the fake
Messages API can grade it with its first rater's score and the test can check
every feedback Doc against the right student.
"""

from __future__ import annotations

import json
import re
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gradebot_cli.cli.main import cli
from gradebot_cli.google.markers import SUBMISSION_PROPERTY
from gradebot_cli.publishing.feedback import feedback_blocks
from gradebot_cli.rubric import load_rubric
from gradebot_cli.settings import database_path
from gradebot_cli.storage import Store
from gradebot_cli.storage.store import grade_detail
from tests.conftest import SHARED_DATA, shared_class
from tests.fakes.anthropic_api import FakeAnthropic
from tests.fakes.google_api import FakeGoogle
from tests.support.asap import AsapClass, level_by_score, load_class
from tests.support.grading import grade_answer, submission_text
from tests.test_drive_source import docx_bytes
from tests.test_extract import make_pdf
from tests.test_google_auth import google, sign_in

__all__ = ["google"]

STEM = re.compile(r"student-\d{3}")
TITLE = "Letter about computers"


@pytest.fixture
def asap(tmp_path: Path) -> AsapClass:
    shared_class("asap-set1/class-30")
    return load_class(SHARED_DATA, tmp_path)


def pdf_of(lines: list[str]) -> bytes:
    wrapped = [piece for line in lines for piece in textwrap.wrap(line, 90) or [""]]
    pages = [(wrapped[i : i + 40], False) for i in range(0, len(wrapped), 40)]
    return make_pdf(pages)


def upload_class(google: FakeGoogle, asap: AsapClass) -> tuple[str, dict[str, str]]:
    """Put the essays into a Drive folder; return its ID and Doc IDs by stem."""
    folder = google.add_folder("Period 2: letters")
    docs: dict[str, str] = {}
    for index, path in enumerate(sorted(asap.submissions.iterdir())):
        stem = path.stem
        email = f"{stem}@school.example"
        google.add_user(email, stem.replace("-", " ").title())
        lines = [stem, *path.read_text(encoding="utf-8").splitlines()]
        if index % 3 == 0:
            # One student keeps the Doc in their own Drive and adds a shortcut.
            parent = None if index == 3 else folder
            docs[stem] = google.add_doc(
                "My letter", "\n".join(lines), parent=parent, owner=email
            )
            if parent is None:
                google.share(docs[stem], google.teacher.email, "writer")
                google.add_shortcut("My letter", docs[stem], parent=folder, owner=email)
        elif index % 3 == 1:
            google.add_file(
                f"{stem}.docx", docx_bytes(*lines), parent=folder, owner=email
            )
        else:
            google.add_file(f"{stem}.pdf", pdf_of(lines), parent=folder, owner=email)
    google.add_doc("Old draft", "Not this one.", parent=folder, trashed=True)
    google.add_sheet("Seating plan", [["row", "name"]], parent=folder)
    return folder, docs


def responder(asap: AsapClass) -> Any:
    """Grade each essay with its rater's score; odd students get emoji feedback."""

    def respond(body: dict[str, Any]) -> str:
        text = submission_text(body)
        found = STEM.search(text)
        assert found is not None
        stem = found.group(0)
        level = level_by_score(asap.rubric, asap.scores[f"{stem}.txt"])
        answer = grade_answer(asap.rubric, text, lambda _t, _c: level)
        if int(stem[-3:]) % 2:
            answer["overall_feedback"] = f"Très bien 🎉 — 很好, {stem} 👩‍👩‍👧!"
            answer["strengths"] = ["Strong voice ✨", "مقدمة واضحة"]
        return json.dumps(answer, ensure_ascii=False)

    return respond


def write_assignment(
    folder: Path, asap: AsapClass, source: str, feedback: str, mode: str
) -> Path:
    folder.mkdir(exist_ok=True)
    shutil.copy(asap.rubric_path, folder / "rubric.toml")
    shutil.copy(asap.instructions_path, folder / "instructions.txt")
    (folder / "assignment.toml").write_text(
        f'title = "{TITLE}"\nrubric = "rubric.toml"\n'
        'instructions_file = "instructions.txt"\n\n'
        f'[source]\ntype = "drive"\nfolder = "https://drive.google.com/drive/folders/{source}"\n\n'
        f'[publish]\nmode = "{mode}"\nfolder = "{feedback}"\nshare_with_student = true\n',
        encoding="utf-8",
    )
    return folder


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


def expected_feedback(folder: Path) -> dict[str, tuple[str, str]]:
    """Map each submission key to (student e-mail, feedback text as blocks)."""
    rubric = load_rubric(folder / "rubric.toml")
    store = Store(database_path())
    try:
        rows = store.query("select id, key, student_email from submissions")
        result = {}
        for row in rows:
            detail = grade_detail(store, int(row["id"]))
            if detail is None:
                continue
            blocks = feedback_blocks(TITLE, rubric, detail)
            text = "\n".join(block.text for block in blocks)
            result[row["key"]] = (row["student_email"], text)
        return result
    finally:
        store.close()


def test_class_from_drive_both_modes(
    asap: AsapClass, google: FakeGoogle, fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    sign_in(google)
    source, docs = upload_class(google, asap)
    feedback = google.add_folder("Feedback: letters")
    folder = write_assignment(tmp_path / "letters", asap, source, feedback, "doc")
    fake_api.responder = responder(asap)

    fetched = run("fetch", str(folder), "--json")
    graded = run("grade", str(folder), "-q")
    republished = run("publish", str(folder), "--json")

    listing = json.loads(fetched.stdout)
    assert fetched.exit_code == 0, fetched.output
    assert listing["counts"] == {"ready": 30, "problem": 1}, [
        s for s in listing["submissions"] if s["state"] == "problem"
    ]
    assert [s["status"] for s in listing["submissions"] if s["state"] == "problem"] == [
        "unsupported"
    ]
    assert graded.exit_code == 0, graded.output
    assert fake_api.count("/v1/messages") == 30

    expected = expected_feedback(folder)
    created = [f for f in google.children(feedback) if not f.trashed]
    assert len(expected) == 30
    assert len(created) == 30
    for doc in created:
        email, text = expected[doc.app_properties[SUBMISSION_PROPERTY]]
        stem = email.split("@")[0]
        assert google.doc_text(doc.id) == text
        assert f"Student: {stem.replace('-', ' ').title()}" in text
        assert f"Score: {asap.scores[stem + '.txt']} / 6" in text
        if int(stem[-3:]) % 2:
            assert "🎉" in text
            assert "很好" in text
            assert "مقدمة واضحة" in text
    assert len(google.notifications) == 30
    assert json.loads(republished.stdout)["counts"] == {"unchanged": 30}
    assert len([f for f in google.children(feedback) if not f.trashed]) == 30

    # The same class, now with feedback appended to each student's own Doc.
    originals = {key: google.doc_text(key) for key in docs.values()}
    write_assignment(folder, asap, source, feedback, "append")
    appended = run("publish", str(folder), "--json")
    again = run("publish", str(folder), "--json")
    regraded = run("grade", str(folder), "-q", "--json")

    assert appended.exit_code == 0, appended.output
    assert json.loads(appended.stdout)["counts"] == {"created": 10, "skipped": 20}
    for key, original in originals.items():
        assert google.doc_text(key) == original + "\n" + expected[key][1]
    assert json.loads(again.stdout)["counts"] == {"unchanged": 10, "skipped": 20}
    assert regraded.exit_code == 0, regraded.output
    assert json.loads(regraded.stdout)["counts"]["unchanged"] == 31
    assert fake_api.count("/v1/messages") == 30


def test_grade_no_publish_then_publish(
    google: FakeGoogle, fake_api: FakeAnthropic, tmp_path: Path
) -> None:
    from tests.conftest import EXAMPLE
    from tests.support.grading import grading_responder

    sign_in(google)
    source = google.add_folder("Letters")
    google.add_folder("Late work", parent=source)
    for name in ("Ana", "Ben"):
        email = f"{name.lower()}@school.example"
        google.add_user(email, name)
        google.add_doc(
            "Letter", f"{name} argues for a four-day week.", parent=source, owner=email
        )
    feedback = google.add_folder("Feedback")
    folder = tmp_path / "letters"
    folder.mkdir()
    shutil.copy(EXAMPLE / "rubric.toml", folder / "rubric.toml")
    (folder / "assignment.toml").write_text(
        'title = "Four-day week"\nrubric = "rubric.toml"\ninstructions = "Write a letter."\n'
        f'[source]\ntype = "drive"\nfolder = "{source}"\n'
        f'[publish]\nmode = "doc"\nfolder = "{feedback}"\n',
        encoding="utf-8",
    )
    fake_api.responder = grading_responder(load_rubric(folder / "rubric.toml"))

    fetched = run("fetch", str(folder))
    graded = run("grade", str(folder), "-q", "--no-publish")
    planned = run("publish", str(folder), "--dry-run")
    published = run("publish", str(folder))

    assert fetched.exit_code == 0, fetched.output
    assert "Skipped subfolder 'Late work'" in fetched.stderr
    assert graded.exit_code == 0, graded.output
    assert planned.exit_code == 0, planned.output
    assert "Ana: would create (doc)" in planned.stdout
    assert "  | Feedback: Four-day week" in planned.stdout
    assert published.exit_code == 0, published.output
    assert "Publish (doc): 2 created." in published.stderr
    assert len(google.children(feedback)) == 2
