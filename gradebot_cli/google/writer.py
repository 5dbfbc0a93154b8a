"""Writing one student's feedback to Drive: a feedback Doc, or a section in theirs.

:func:`gradebot_cli.google.publish.publish_assignment` chooses the students and
hands each one to :class:`FeedbackWriter`; see that module for the rules.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from gradebot_cli.assignment import Assignment
from gradebot_cli.errors import GoogleAuthError
from gradebot_cli.google.append import (
    SectionEdited,
    append_requests,
    section_paragraphs,
)
from gradebot_cli.google.client import ApiFailure, GoogleSession
from gradebot_cli.google.doc_text import range_names
from gradebot_cli.google.drive_meta import DOC, fingerprint
from gradebot_cli.google.markers import (
    ASSIGNMENT_PROPERTY,
    SHARED_WITH_PROPERTY,
    SUBMISSION_PROPERTY,
    feedback_range_prefix,
)
from gradebot_cli.publishing.feedback import Block, to_html
from gradebot_cli.storage import Store
from gradebot_cli.storage.store import GradeDetail, utc_now

log = logging.getLogger(__name__)

# ``publications.target`` for each mode.
TARGETS = {"doc": "drive-doc", "append": "drive-append"}
SHARE_ROLE = "reader"
# A Doc edited between documents.get and batchUpdate is read again this often.
MAX_APPEND_ATTEMPTS = 3
# The body's paragraph text is read to check the old section before deleting it.
STUDENT_DOC_FIELDS = (
    "revisionId,namedRanges,body(content(startIndex,endIndex,"
    "paragraph(elements(startIndex,endIndex,textRun(content)))))"
)
FINGERPRINT_FIELDS = "mimeType,version,modifiedTime,md5Checksum,headRevisionId,size"

CREATED, UPDATED, UNCHANGED = "created", "updated", "unchanged"
SKIPPED, FAILED, NOT_STARTED = "skipped", "failed", "not started"
WOULD_CREATE, WOULD_UPDATE = "would create", "would update"


@dataclass(frozen=True)
class PublishOutcome:
    """The result of publishing one student's feedback."""

    submission_id: int
    student: str
    key: str
    mode: str
    result: str
    target: str = ""
    reason: str = ""
    shared_with: str = ""
    preview: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedbackJob:
    """One student's feedback, rendered, with what was published before."""

    detail: GradeDetail
    blocks: list[Block]
    content_hash: str
    previous_id: str
    previous_hash: str


def outcome(job: FeedbackJob, mode: str, result: str, **extra: Any) -> PublishOutcome:
    submission = job.detail.submission
    return PublishOutcome(
        submission.id, submission.student, submission.key, mode, result, **extra
    )


class FeedbackWriter:
    """Writes one student's feedback at a time, in the report's mode."""

    def __init__(
        self,
        assignment: Assignment,
        store: Store,
        session: GoogleSession,
        mode: str,
        folder_id: str,
        *,
        force: bool = False,
    ) -> None:
        self.assignment = assignment
        self.store = store
        self.session = session
        self.mode = mode
        self.folder_id = folder_id
        # Also replace an appended section that someone edited.
        self.force = force

    def publish(self, job: FeedbackJob) -> PublishOutcome:
        """Publish one student's feedback; Drive failures become a FAILED outcome."""
        try:
            if self.mode == "doc":
                return self._doc(job)
            return self._append(job)
        except GoogleAuthError:
            raise
        except ApiFailure as failure:
            log.error(
                "publishing for %s failed: %s", job.detail.submission.key, failure
            )
            return outcome(job, self.mode, FAILED, reason=str(failure))

    def _record(self, job: FeedbackJob, external_id: str) -> None:
        submission = job.detail.submission
        values = {
            "submission_id": submission.id,
            "target": TARGETS[self.mode],
            "grade_id": submission.grade_id,
            "external_id": external_id,
            "content_hash": job.content_hash,
            "published_at": utc_now(),
        }
        with self.store.transaction() as db:
            found = list(
                db.query(
                    "select id from publications where submission_id = ? and target = ?",
                    [submission.id, values["target"]],
                )
            )
            table: Any = db["publications"]
            if found:
                table.update(found[0]["id"], values)
            else:
                table.insert(values)

    # -- mode "doc" -----------------------------------------------------------

    def _doc(self, job: FeedbackJob) -> PublishOutcome:
        from googleapiclient.http import MediaInMemoryUpload

        submission = job.detail.submission
        name = f"{self.assignment.title}: feedback for {submission.student}"
        html = to_html(job.blocks, page_title=name)
        media = MediaInMemoryUpload(html.encode("utf-8"), mimetype="text/html")
        properties = {
            SUBMISSION_PROPERTY: submission.key,
            ASSIGNMENT_PROPERTY: self.assignment.id,
        }
        existing = self._existing_doc(job)
        files = self.session.drive().files()
        fields = "id,webViewLink,appProperties"
        if existing is not None:
            request = files.update(
                fileId=existing["id"],
                body={"name": name, "appProperties": properties},
                media_body=media,
                supportsAllDrives=True,
                fields=fields,
            )
            doc = self.session.execute(
                request,
                action=f"Updating the feedback Doc {existing['id']} for {submission.student}",
            )
            result = UPDATED
        else:
            body = {
                "name": name,
                "mimeType": DOC,
                "parents": [self.folder_id],
                "appProperties": properties,
            }
            request = files.create(
                body=body, media_body=media, supportsAllDrives=True, fields=fields
            )
            doc = self._create(request, submission.student)
            result = CREATED
        self._record(job, doc["id"])
        shared, note = self._share(doc, submission.student_email)
        return outcome(
            job,
            self.mode,
            result,
            target=doc.get("webViewLink") or doc["id"],
            shared_with=shared,
            reason=note,
        )

    def _create(self, request: Any, student: str) -> dict[str, Any]:
        action = f"Creating the feedback Doc for {student} in folder {self.folder_id}"
        try:
            created: dict[str, Any] = self.session.execute(
                request, action=action, idempotent=False
            )
        except ApiFailure as failure:
            if failure.status in (403, 404) and failure.reason not in (
                "rateLimitExceeded",
                "userRateLimitExceeded",
            ):
                raise ApiFailure(
                    f"{failure} Check [publish] folder: the signed-in account must be "
                    "able to add files to it. With only the drive.file scope, Drive may "
                    "refuse folders gradebot did not create; `gradebot auth login "
                    "--scope drive` grants full Drive access (see docs/google.md).",
                    failure.status,
                    failure.reason,
                ) from None
            raise
        return created

    def _existing_doc(self, job: FeedbackJob) -> dict[str, Any] | None:
        """Find the Doc published before: by stored ID, else by appProperties."""
        files = self.session.drive().files()
        fields = "id,trashed,webViewLink,appProperties"
        if job.previous_id:
            request = files.get(
                fileId=job.previous_id, fields=fields, supportsAllDrives=True
            )
            try:
                found: dict[str, Any] = self.session.execute(
                    request, action=f"Reading the feedback Doc {job.previous_id}"
                )
            except ApiFailure as failure:
                if failure.status != 404:
                    raise
            else:
                if not found.get("trashed"):
                    return found
        return self._search_doc(job.detail.submission.key)

    def _search_doc(self, key: str) -> dict[str, Any] | None:
        query = (
            f"'{self.folder_id}' in parents and trashed = false"
            f" and appProperties has {{ key='{SUBMISSION_PROPERTY}' and value='{_quote(key)}' }}"
            f" and appProperties has {{ key='{ASSIGNMENT_PROPERTY}' and value='{_quote(self.assignment.id)}' }}"
        )
        request = (
            self.session.drive()
            .files()
            .list(
                q=query,
                fields="files(id,webViewLink,appProperties,modifiedTime)",
                corpora="allDrives",
                supportsAllDrives=True,
                includeItemsFromAllDrives=True,
                pageSize=10,
            )
        )
        files = self.session.execute(
            request,
            action=f"Searching folder {self.folder_id} for the feedback Doc of {key}",
        ).get("files", [])
        if len(files) > 1:
            log.warning(
                "Several feedback Docs for submission %s; updating %s, leaving %s",
                key,
                files[0]["id"],
                ", ".join(f["id"] for f in files[1:]),
            )
        return files[0] if files else None

    def _share(self, doc: dict[str, Any], email: str) -> tuple[str, str]:
        """Share the Doc with the student once; return (address, note)."""
        if not self.assignment.publish.share_with_student:
            return "", ""
        if not email:
            return "", "not shared: no e-mail address is known for this student"
        if (doc.get("appProperties") or {}).get(SHARED_WITH_PROPERTY) == email:
            return email, ""
        drive = self.session.drive()
        request = drive.permissions().create(
            fileId=doc["id"],
            body={"type": "user", "role": SHARE_ROLE, "emailAddress": email},
            sendNotificationEmail=True,
            emailMessage=f"Feedback on {self.assignment.title}",
            supportsAllDrives=True,
            fields="id",
        )
        self.session.execute(
            request,
            action=f"Sharing the feedback Doc {doc['id']} with {email}",
            idempotent=False,
        )
        mark = drive.files().update(
            fileId=doc["id"],
            body={"appProperties": {SHARED_WITH_PROPERTY: email}},
            supportsAllDrives=True,
            fields="id",
        )
        self.session.execute(
            mark, action=f"Marking the feedback Doc {doc['id']} as shared"
        )
        return email, ""

    # -- mode "append" ----------------------------------------------------------

    def _append(self, job: FeedbackJob) -> PublishOutcome:
        submission = job.detail.submission
        document_id = submission.key
        action = f"Appending feedback to '{submission.file_name}' (Doc {document_id})"
        for attempt in range(1, MAX_APPEND_ATTEMPTS + 1):
            document = self._read_student_doc(job)
            if document is None:
                return outcome(
                    job,
                    self.mode,
                    SKIPPED,
                    target=document_id,
                    reason=f"'{submission.file_name}' is not a Google Doc, so feedback "
                    "cannot be appended to it; use [publish] mode = 'doc' for it",
                )
            try:
                had_section = self._write_section(job, document, action)
            except SectionEdited as edited:
                return outcome(
                    job,
                    self.mode,
                    SKIPPED,
                    target=document_id,
                    reason=f"the feedback section in '{submission.file_name}' was "
                    f"edited after gradebot wrote it ({edited}), so it was left "
                    "alone; remove it by hand, or publish with --force to replace "
                    "it and its edits",
                )
            except ApiFailure as failure:
                conflict = (
                    failure.status == 400 and failure.reason == "FAILED_PRECONDITION"
                )
                if conflict and attempt < MAX_APPEND_ATTEMPTS:
                    log.info(
                        "%s: the Doc changed while writing; reading it again", action
                    )
                    continue
                raise
            self._record(job, document_id)
            self._note_own_edit(job)
            result = UPDATED if had_section else CREATED
            return outcome(job, self.mode, result, target=document_id)
        raise AssertionError("unreachable")

    def _write_section(
        self, job: FeedbackJob, document: dict[str, Any], action: str
    ) -> bool:
        """Send the section's batchUpdate; return True if it replaced a section."""
        prefix = feedback_range_prefix(self.assignment.id)
        had_section = bool(range_names(document, prefix))
        requests = append_requests(
            document,
            section_paragraphs(job.blocks),
            self.assignment.id,
            replace_edited=self.force,
        )
        body = {
            "requests": requests,
            "writeControl": {"requiredRevisionId": document["revisionId"]},
        }
        docs = self.session.docs().documents()
        request = docs.batchUpdate(documentId=job.detail.submission.key, body=body)
        self.session.execute(request, action=action)
        return had_section

    def _note_own_edit(self, job: FeedbackJob) -> None:
        """Store the Doc's fingerprint after gradebot's edit, so the next grading
        run does not read the Doc again for a change gradebot made.

        NOTE: a student edit landing between the batchUpdate and this read is
        taken as seen too, and is graded only after the Doc changes again.
        """
        submission = job.detail.submission
        request = (
            self.session.drive()
            .files()
            .get(
                fileId=submission.key, fields=FINGERPRINT_FIELDS, supportsAllDrives=True
            )
        )
        action = (
            f"Reading the new version of '{submission.file_name}' ({submission.key})"
        )
        try:
            meta = self.session.execute(request, action=action)
        except ApiFailure as failure:
            log.warning("%s; the next grading run reads the Doc again", failure)
            return
        with self.store.transaction() as db:
            table: Any = db["submissions"]
            table.update(submission.id, {"fingerprint": fingerprint(meta)})

    def _read_student_doc(self, job: FeedbackJob) -> dict[str, Any] | None:
        submission = job.detail.submission
        request = (
            self.session.docs()
            .documents()
            .get(
                documentId=submission.key,
                fields=STUDENT_DOC_FIELDS,
            )
        )
        action = f"Reading '{submission.file_name}' (Doc {submission.key})"
        try:
            document: dict[str, Any] = self.session.execute(request, action=action)
        except ApiFailure as failure:
            if failure.status == 400 and failure.reason == "FAILED_PRECONDITION":
                return None
            raise
        return document


def _quote(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")
