"""Google sign-in: the browser flow, the stored token, status, logout, servers.

Everything runs against the fake Google server over TLS on 127.0.0.1, through
google-auth, google-auth-oauthlib and google-api-python-client. The other Drive
test modules import the ``google`` fixture and :func:`sign_in` from here.
"""

from __future__ import annotations

import json
import stat
import threading
import urllib.error
import urllib.parse
import urllib.request
import webbrowser
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httplib2
import pytest
from click.testing import CliRunner

from gradebot_cli.cli.main import cli
from gradebot_cli.errors import ConfigError, GoogleAuthError
from gradebot_cli.google import scopes
from gradebot_cli.google.auth import (
    ENV_CREDENTIALS,
    ENV_SERVICE_ACCOUNT,
    ENV_SUBJECT,
    load_credentials,
    revoke_url,
    save_token,
    token_path,
)
from gradebot_cli.google.login import login, read_client_config
from tests.fakes import tls
from tests.fakes.google_api import FakeGoogle

READ_AND_WRITE = scopes.for_features(["read", "doc", "append"])


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGoogle]:
    """The fake Google server over TLS, with gradebot's settings aimed at it."""
    ca_file = tls.ca_file()
    monkeypatch.setenv("HTTPLIB2_CA_CERTS", ca_file)
    monkeypatch.setattr(httplib2, "CA_CERTS", ca_file)
    # google-auth-oauthlib exchanges the sign-in code with requests.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", ca_file)
    for name in (ENV_SERVICE_ACCOUNT, ENV_SUBJECT, ENV_CREDENTIALS):
        monkeypatch.delenv(name, raising=False)
    with FakeGoogle(scheme="https") as fake:
        monkeypatch.setenv("GRADEBOT_GOOGLE_API_ENDPOINT", fake.endpoint)
        monkeypatch.setenv("GRADEBOT_GOOGLE_BACKOFF_SECONDS", "0.001")
        yield fake


def sign_in(
    google: FakeGoogle, granted: list[str] | None = None, email: str | None = None
) -> str:
    """Store a sign-in for the teacher (or ``email``); return its refresh token."""
    credentials = google.user_credentials(email, scopes=granted or READ_AND_WRITE)
    save_token(credentials, token_path())
    return str(credentials.refresh_token)


def invoke(*args: str, input: str | None = None) -> Any:
    return CliRunner().invoke(cli, list(args), input=input)


def client_secrets(google: FakeGoogle, tmp_path: Path) -> Path:
    path = tmp_path / "client_secret.json"
    path.write_text(json.dumps(google.client_config()), encoding="utf-8")
    return path


def browse(url: str) -> None:
    """Act as the user's browser: approve, then follow the redirect to gradebot."""
    with urllib.request.urlopen(url, context=tls.client_context()) as response:
        response.read()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def redirect_location(url: str) -> str:
    """Return where the consent page sends the browser, without going there."""
    opener = urllib.request.build_opener(
        _NoRedirect, urllib.request.HTTPSHandler(context=tls.client_context())
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(url)
    caught.value.close()
    return str(caught.value.headers["Location"])


# -- login ---------------------------------------------------------------------


def test_login_token_file_mode_0600(
    google: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webbrowser, "open", browse)

    result = invoke(
        "auth", "login", "--client-secrets", str(client_secrets(google, tmp_path))
    )

    saved = json.loads(token_path().read_text(encoding="utf-8"))
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(token_path().stat().st_mode) == 0o600
    assert saved["refresh_token"].startswith("1//")
    assert saved["token_uri"] == google.token_uri
    assert set(saved["scopes"]) == {scopes.DRIVE_READONLY, scopes.DRIVE_FILE}
    assert "Signed in" in result.stderr


def test_login_for_append_asks_documents(
    google: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webbrowser, "open", browse)
    secrets = str(client_secrets(google, tmp_path))

    result = invoke(
        "auth", "login", "--client-secrets", secrets, "--for", "read", "--for", "append"
    )

    saved = json.loads(token_path().read_text(encoding="utf-8"))
    assert result.exit_code == 0, result.output
    assert set(saved["scopes"]) == {scopes.DRIVE_READONLY, scopes.DOCUMENTS}


def test_login_pasted_redirect(google: FakeGoogle) -> None:
    shown: list[str] = []
    ready = threading.Event()

    def show(text: str) -> None:
        shown.append(text)
        ready.set()

    def paste() -> str:
        ready.wait(10)
        url = next(w for w in shown[0].split() if w.startswith("https://"))
        return redirect_location(url) + "\n"

    credentials = login(
        google.client_config(),
        [scopes.DRIVE_READONLY],
        show=show,
        read_pasted=paste,
        timeout=20,
    )

    assert credentials.refresh_token.startswith("1//")
    assert "copy the whole address" in shown[0]


def test_login_denied(google: FakeGoogle) -> None:
    google.set_consent(False)

    with pytest.raises(GoogleAuthError) as caught:
        login(
            google.client_config(),
            [scopes.DRIVE_READONLY],
            show=lambda _: None,
            open_browser=browse,
            timeout=20,
        )

    assert "access_denied" in str(caught.value)


def test_login_timeout(google: FakeGoogle) -> None:
    with pytest.raises(GoogleAuthError) as caught:
        login(
            google.client_config(),
            [scopes.DRIVE_READONLY],
            show=lambda _: None,
            timeout=0.2,
        )

    assert "No sign-in arrived" in str(caught.value)


def test_web_client_rejected(tmp_path: Path) -> None:
    path = tmp_path / "client.json"
    path.write_text('{"web": {"client_id": "x"}}', encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        read_client_config(path)

    assert "'Desktop app'" in str(caught.value)


# -- stored token ----------------------------------------------------------------


def test_status_shows_account(google: FakeGoogle) -> None:
    sign_in(google)

    result = invoke("auth", "status")

    assert result.exit_code == 0, result.output
    assert "Ada Teacher <teacher@school.example>" in result.stdout
    assert "stored sign-in" in result.stdout
    assert "drive.readonly, drive.file, documents" in result.stdout


def test_refreshed_token_saved_back(google: FakeGoogle) -> None:
    sign_in(google)

    result = invoke("auth", "status", "--json")

    saved = json.loads(token_path().read_text(encoding="utf-8"))
    assert result.exit_code == 0, result.output
    assert saved["token"].startswith("ya29.")
    assert saved["expiry"].startswith(json.loads(result.stdout)["expiry"].rstrip("Z"))
    assert stat.S_IMODE(token_path().stat().st_mode) == 0o600


def test_status_not_signed_in(google: FakeGoogle) -> None:
    result = invoke("auth", "status")

    assert result.exit_code == 2
    assert "Not signed in to Google. Run `gradebot auth login`" in result.stderr


def test_revoked_token_exit_2(google: FakeGoogle) -> None:
    google.revoke_refresh_token(sign_in(google))

    result = invoke("auth", "status")

    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 2
    assert len(errors) == 1
    assert "expired or was revoked (invalid_grant)" in errors[0]
    assert "Run `gradebot auth login`" in errors[0]


def test_logout_revokes_and_deletes(google: FakeGoogle) -> None:
    refresh_token = sign_in(google)

    result = invoke("auth", "logout")

    assert result.exit_code == 0, result.output
    assert not token_path().exists()
    assert google.oauth.grants[refresh_token].revoked
    assert len(google.requests_to("POST", "^/revoke$")) == 1
    assert "Signed out" in result.stderr


def test_logout_when_signed_out(google: FakeGoogle) -> None:
    result = invoke("auth", "logout")

    assert result.exit_code == 0
    assert "Not signed in" in result.stderr
    assert google.requests_to("POST", "^/revoke$") == []


def test_missing_scope_says_how(google: FakeGoogle) -> None:
    sign_in(google, granted=[scopes.DRIVE_READONLY])

    with pytest.raises(GoogleAuthError) as caught:
        load_credentials(scopes.for_features(["read", "append"]))

    assert "documents (to append feedback to students' Docs)" in str(caught.value)
    assert "gradebot auth login --for read --for append" in str(caught.value)


def test_foreign_token_uri_rejected(google: FakeGoogle) -> None:
    sign_in(google)
    saved = json.loads(token_path().read_text(encoding="utf-8"))
    saved["token_uri"] = "https://collector.example/token"
    token_path().write_text(json.dumps(saved), encoding="utf-8")

    with pytest.raises(GoogleAuthError) as caught:
        load_credentials(())

    assert "https://collector.example/token" in str(caught.value)
    assert "not sent there" in str(caught.value)


def test_drive_scope_covers_all() -> None:
    needed = scopes.for_features(["read", "doc", "append"])

    assert scopes.missing([scopes.DRIVE], needed) == []
    assert scopes.missing([scopes.DRIVE_FILE], needed) == [
        scopes.DRIVE_READONLY,
        scopes.DOCUMENTS,
    ]


def test_revoke_url_beside_token_url() -> None:
    assert revoke_url("https://oauth2.googleapis.com/token") == (
        "https://oauth2.googleapis.com/revoke"
    )


# -- servers -------------------------------------------------------------------


def test_service_account_with_subject(
    google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_SERVICE_ACCOUNT, json.dumps(google.service_account_info()))
    monkeypatch.setenv(ENV_SUBJECT, google.teacher.email)

    result = invoke("auth", "status", "--json")

    status = json.loads(result.stdout)
    assertion = google.requests_to("POST", "^/token$")[0]
    assert result.exit_code == 0, result.output
    assert status["email"] == "teacher@school.example"
    assert "acting as teacher@school.example" in status["source"]
    assert b"jwt-bearer" in assertion.body


def test_base64_service_account_in_credentials(
    google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    key = json.dumps(google.service_account_info()).encode()
    monkeypatch.setenv(ENV_CREDENTIALS, base64.b64encode(key).decode())
    monkeypatch.setenv(ENV_SUBJECT, google.teacher.email)

    result = invoke("auth", "status", "--json")

    status = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert status["email"] == "teacher@school.example"
    assert "GRADEBOT_GOOGLE_CREDENTIALS" in status["source"]


def test_garbage_credentials_named(
    google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_CREDENTIALS, "not-a-file-or-json!")

    result = invoke("auth", "status")

    assert result.exit_code == 2
    assert "GRADEBOT_GOOGLE_CREDENTIALS is not a readable file" in result.stderr


def test_env_credentials_before_stored(
    google: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    google.add_user("cron@school.example", "Cron Account")
    sign_in(google)
    other = tmp_path / "server-token.json"
    save_token(google.user_credentials("cron@school.example", READ_AND_WRITE), other)
    monkeypatch.setenv(ENV_CREDENTIALS, str(other))

    result = invoke("auth", "status", "--json")

    status = json.loads(result.stdout)
    assert result.exit_code == 0, result.output
    assert status["email"] == "cron@school.example"
    assert status["source"].startswith("token from GRADEBOT_GOOGLE_CREDENTIALS")


def test_delegation_refused_exit_2(
    google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    info = google.service_account_info(
        "nodelegation@x.iam.gserviceaccount.com", delegation=False
    )
    monkeypatch.setenv(ENV_SERVICE_ACCOUNT, json.dumps(info))
    monkeypatch.setenv(ENV_SUBJECT, google.teacher.email)

    result = invoke("auth", "status")

    assert result.exit_code == 2
    assert "unauthorized_client" in result.stderr
    assert "domain-wide delegation" in result.stderr
