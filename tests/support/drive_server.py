"""The fake Google server as a process, seeded with the example class.

Used by scripts/build-image.sh to run the built image's scheduled job against
loopback fakes::

    python -m tests.support.drive_server --state-dir DIR

It writes DIR/credentials.json (an authorized-user token whose token_uri is the
fake) and DIR/ca.pem, prints ``READY <endpoint> <submissions-folder-id>
<feedback-folder-id>``, and serves until SIGTERM or SIGINT. Then it writes
DIR/published.json: the name and text of every Doc in the feedback folder.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import threading
from pathlib import Path
from types import FrameType

from gradebot_cli.google import scopes
from gradebot_cli.sources.local import student_name
from tests.fakes.google_api import FakeGoogle

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "four-day-week"


def seed(google: FakeGoogle) -> tuple[str, str]:
    """Put the example letters in a Drive folder, one Doc per student."""
    submissions = google.add_folder("Four-day week letters")
    feedback = google.add_folder("Feedback")
    for path in sorted((EXAMPLE / "submissions").iterdir()):
        name = student_name(path.name)
        email = name.lower().replace(" ", ".") + "@students.example"
        google.add_user(email, name)
        google.add_doc(
            name, path.read_text(encoding="utf-8"), parent=submissions, owner=email
        )
    return submissions, feedback


def write_credentials(google: FakeGoogle, state: Path) -> None:
    granted = scopes.for_features(["read", "doc"])
    credentials = google.user_credentials(scopes=granted)
    (state / "credentials.json").write_text(credentials.to_json(), encoding="utf-8")
    shutil.copyfile(google.ca_file, state / "ca.pem")


def published_docs(google: FakeGoogle, feedback: str) -> list[dict[str, str]]:
    return [
        {"name": item.name, "text": google.doc_text(item.id)}
        for item in google.children(feedback)
        if item.mime_type == "application/vnd.google-apps.document"
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--state-dir", type=Path, required=True)
    args = parser.parse_args()
    args.state_dir.mkdir(parents=True, exist_ok=True)
    stopped = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopped.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    with FakeGoogle(scheme="https") as google:
        submissions, feedback = seed(google)
        write_credentials(google, args.state_dir)
        print(f"READY {google.endpoint} {submissions} {feedback}", flush=True)
        stopped.wait()
        docs = published_docs(google, feedback)
        (args.state_dir / "published.json").write_text(
            json.dumps(docs, ensure_ascii=False, indent=2), encoding="utf-8"
        )


if __name__ == "__main__":
    main()
