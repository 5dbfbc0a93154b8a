"""``gradebot auth status`` and ``gradebot auth logout``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gradebot_cli.errors import GoogleAuthError
from gradebot_cli.google import scopes as scope_names
from gradebot_cli.google.auth import (
    ENV_CREDENTIALS,
    ENV_SERVICE_ACCOUNT,
    SOURCE_SERVICE_ACCOUNT,
    LoadedCredentials,
    load_credentials,
    read_stored,
    revoke,
    token_path,
)
from gradebot_cli.google.client import GoogleSession


@dataclass(frozen=True)
class AuthStatus:
    source: str
    email: str
    name: str
    scopes: tuple[str, ...]
    expiry: str


def auth_status() -> AuthStatus:
    """Check the credentials in use by asking Drive whose they are.

    Raises GoogleAuthError when there are none or Google rejects them.
    """
    loaded = load_credentials(())
    if loaded.source == SOURCE_SERVICE_ACCOUNT:
        # A service account has no scopes of its own: ask for what reading needs.
        loaded = load_credentials(scope_names.for_features(["read"]))
    return status_of(loaded)


def status_of(loaded: LoadedCredentials) -> AuthStatus:
    """Ask Drive (about.get) whose ``loaded`` credentials are."""
    with GoogleSession(loaded) as session:
        request = session.drive().about().get(fields="user(displayName,emailAddress)")
        about = session.execute(
            request, action="Asking Drive for the signed-in account"
        )
    credentials = loaded.credentials
    expiry = credentials.expiry
    user = about.get("user", {})
    return AuthStatus(
        source=loaded.description,
        email=str(user.get("emailAddress", "")),
        name=str(user.get("displayName", "")),
        scopes=tuple(credentials.scopes or ()),
        expiry=expiry.isoformat(timespec="seconds") + "Z" if expiry else "",
    )


@dataclass(frozen=True)
class LogoutResult:
    path: Path
    deleted: bool
    revoke_problem: str | None
    environment: tuple[str, ...]


def logout() -> LogoutResult:
    """Revoke the stored sign-in at Google and delete the token file.

    The file is deleted even when revocation fails, and the problem is returned.
    Credentials given in the environment are left alone; their variable names
    are returned so the caller can say so.
    """
    path = token_path()
    environment = tuple(
        name for name in (ENV_SERVICE_ACCOUNT, ENV_CREDENTIALS) if os.environ.get(name)
    )
    if not path.exists():
        return LogoutResult(path, False, None, environment)
    problem: str | None
    try:
        problem = revoke(read_stored(path).credentials)
    except GoogleAuthError as exc:
        problem = str(exc)
    path.unlink(missing_ok=True)
    return LogoutResult(path, True, problem, environment)
