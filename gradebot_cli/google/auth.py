"""Google credentials: where they come from, the stored sign-in, and revocation.

Credentials are looked for in this order, and the first one found is used:

1. ``GRADEBOT_GOOGLE_SERVICE_ACCOUNT``: a service-account key (a path, or the
   JSON itself). ``GRADEBOT_GOOGLE_SUBJECT`` makes it act as that user through
   domain-wide delegation.
2. ``GRADEBOT_GOOGLE_CREDENTIALS``: an authorized-user token (a path, or the
   JSON itself), such as the file ``gradebot auth login`` writes.
3. The stored sign-in, ``$GRADEBOT_HOME/google-token.json``, written by
   ``gradebot auth login`` with mode 0600. Refreshed access tokens are saved back
   to it, so a run does not refresh on every start.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradebot_cli.errors import GoogleAuthError
from gradebot_cli.google import scopes as scope_names
from gradebot_cli.settings import gradebot_home

log = logging.getLogger(__name__)

TOKEN_FILE = "google-token.json"
ENV_SERVICE_ACCOUNT = "GRADEBOT_GOOGLE_SERVICE_ACCOUNT"
ENV_SUBJECT = "GRADEBOT_GOOGLE_SUBJECT"
ENV_CREDENTIALS = "GRADEBOT_GOOGLE_CREDENTIALS"
ENV_CLIENT_SECRETS = "GRADEBOT_GOOGLE_CLIENT_SECRETS"

SOURCE_SERVICE_ACCOUNT = "service account"
SOURCE_ENV_TOKEN = "token from GRADEBOT_GOOGLE_CREDENTIALS"
SOURCE_STORED = "stored sign-in"

LOGIN_HINT = "Run `gradebot auth login` to sign in again."
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"


@dataclass(frozen=True)
class LoadedCredentials:
    """Credentials with a note of where they came from."""

    credentials: Any
    source: str
    description: str
    # Set for the stored sign-in: refreshed tokens are written back here.
    token_path: Path | None = None


def token_path() -> Path:
    return gradebot_home() / TOKEN_FILE


def load_credentials(scopes: Sequence[str]) -> LoadedCredentials:
    """Return the first credentials found (see the module docstring).

    ``scopes`` are the scopes the caller needs. A user token that was granted
    fewer raises GoogleAuthError saying how to sign in with the missing ones.
    """
    service_account = os.environ.get(ENV_SERVICE_ACCOUNT, "").strip()
    if service_account:
        return _service_account(service_account, scopes)
    env_token = os.environ.get(ENV_CREDENTIALS, "").strip()
    if env_token:
        info = _json_or_file(env_token, ENV_CREDENTIALS)
        if info.get("type") == "service_account":
            # A deployment may put either kind of credentials in this variable.
            return _service_account_info(info, ENV_CREDENTIALS, scopes)
        loaded = _authorized_user(info, SOURCE_ENV_TOKEN, ENV_CREDENTIALS, None)
    else:
        loaded = read_stored(token_path())
    _check_scopes(loaded, scopes)
    return loaded


def _json_or_file(value: str, variable: str) -> dict[str, Any]:
    """Parse ``value`` as inline JSON, a path to a JSON file, or base64 of JSON.

    Base64 is accepted because Kamal's env files mangle the backslashes inside a
    JSON private key, so deployments pass ``base64 -w0 key.json`` instead.
    """
    if value.startswith("{"):
        text, where = value, f"{variable} (inline JSON)"
    elif _is_file(value):
        path = Path(value).expanduser()
        where = f"{variable}={path}"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise GoogleAuthError(
                f"Cannot read {where} ({exc.strerror or exc}); check the path."
            ) from None
    else:
        where = f"{variable} (base64)"
        text = _base64_text(value, variable)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise GoogleAuthError(f"{where} is not valid JSON ({exc}).") from None
    if not isinstance(data, dict):
        raise GoogleAuthError(f"{where} must contain a JSON object.")
    return data


def _is_file(value: str) -> bool:
    try:
        return Path(value).expanduser().is_file()
    except OSError:  # a long base64 value is not a valid file name
        return False


def _base64_text(value: str, variable: str) -> str:
    import base64
    import binascii

    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise GoogleAuthError(
            f"{variable} is not a readable file, inline JSON or base64 of JSON. "
            "Set it to a key file's path, its JSON, or `base64 -w0 FILE`."
        ) from None


def _service_account(value: str, scopes: Sequence[str]) -> LoadedCredentials:
    info = _json_or_file(value, ENV_SERVICE_ACCOUNT)
    return _service_account_info(info, ENV_SERVICE_ACCOUNT, scopes)


def _service_account_info(
    info: dict[str, Any], variable: str, scopes: Sequence[str]
) -> LoadedCredentials:
    from google.oauth2 import service_account

    if info.get("type") != "service_account":
        raise GoogleAuthError(
            f"{variable} is not a service-account key (its 'type' is "
            f"{info.get('type')!r}); download a JSON key for the service account "
            "from the Google Cloud console."
        )
    subject = os.environ.get(ENV_SUBJECT, "").strip() or None
    try:
        credentials = service_account.Credentials.from_service_account_info(  # type: ignore[no-untyped-call]
            info, scopes=list(scopes) or None, subject=subject
        )
    except (ValueError, KeyError) as exc:
        raise GoogleAuthError(
            f"{variable} is an invalid service-account key ({exc})."
        ) from None
    email = info.get("client_email", "?")
    acting = f", acting as {subject} ({ENV_SUBJECT})" if subject else ""
    description = f"service account {email} ({variable}){acting}"
    return LoadedCredentials(credentials, SOURCE_SERVICE_ACCOUNT, description)


def _authorized_user(
    info: dict[str, Any], source: str, where: str, path: Path | None
) -> LoadedCredentials:
    from google.oauth2.credentials import Credentials

    lacking = [
        k for k in ("refresh_token", "client_id", "client_secret") if not info.get(k)
    ]
    if lacking:
        raise GoogleAuthError(
            f"{where} is not a usable Google token (it lacks {', '.join(lacking)}). "
            f"{LOGIN_HINT}"
        )
    # Built here rather than with Credentials.from_authorized_user_info, because
    # that method (google-auth 2.63) ignores the file's token_uri and always uses
    # Google's endpoint. trusted_token_uri decides which token_uri is used.
    options: dict[str, Any] = {}
    if info.get("universe_domain"):
        options["universe_domain"] = info["universe_domain"]
    scopes = info.get("scopes")
    credentials = Credentials(  # type: ignore[no-untyped-call]
        token=info.get("token"),
        refresh_token=info["refresh_token"],
        token_uri=trusted_token_uri(info.get("token_uri"), where),
        client_id=info["client_id"],
        client_secret=info["client_secret"],
        scopes=scopes.split() if isinstance(scopes, str) else scopes,
        expiry=_expiry(info.get("expiry"), where),
        rapt_token=info.get("rapt_token"),
        account=info.get("account", ""),
        **options,
    )
    description = f"{source} ({where})"
    return LoadedCredentials(credentials, source, description, path)


def trusted_token_uri(value: Any, where: str) -> str:
    """Return the token endpoint to send a refresh token to.

    A refresh token and client secret go only to Google's endpoint, or to the
    host of GRADEBOT_GOOGLE_API_ENDPOINT (a private endpoint or a test server).
    A token file that names any other host is rejected.
    """
    uri = str(value or GOOGLE_TOKEN_URI)
    if uri == GOOGLE_TOKEN_URI:
        return uri
    endpoint = os.environ.get("GRADEBOT_GOOGLE_API_ENDPOINT", "").strip()
    token_host = urllib.parse.urlsplit(uri).netloc
    if endpoint and token_host == urllib.parse.urlsplit(endpoint).netloc:
        return uri
    raise GoogleAuthError(
        f"{where} names the token endpoint {uri}, which is neither Google's "
        f"({GOOGLE_TOKEN_URI}) nor on the host of GRADEBOT_GOOGLE_API_ENDPOINT; "
        f"the refresh token is not sent there. {LOGIN_HINT}"
    )


def _expiry(value: Any, where: str) -> Any:
    """Parse a token file's ``expiry`` as google-auth writes it (naive UTC)."""
    import datetime as dt

    if not value:
        return None
    try:
        return dt.datetime.strptime(
            str(value).rstrip("Z").split(".")[0], "%Y-%m-%dT%H:%M:%S"
        )
    except ValueError:
        raise GoogleAuthError(
            f"{where} has an invalid expiry {value!r}. {LOGIN_HINT}"
        ) from None


def read_stored(path: Path) -> LoadedCredentials:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise GoogleAuthError(
            "Not signed in to Google. Run `gradebot auth login` on this computer, or "
            f"on a server set {ENV_SERVICE_ACCOUNT} or {ENV_CREDENTIALS} "
            "(see docs/google.md)."
        ) from None
    except OSError as exc:
        raise GoogleAuthError(
            f"Cannot read the stored Google sign-in {path} ({exc.strerror})."
        ) from None
    try:
        info = json.loads(text)
    except ValueError:
        raise GoogleAuthError(
            f"The stored Google sign-in {path} is damaged. {LOGIN_HINT}"
        ) from None
    if not isinstance(info, dict):
        raise GoogleAuthError(
            f"The stored Google sign-in {path} is damaged. {LOGIN_HINT}"
        )
    return _authorized_user(info, SOURCE_STORED, str(path), path)


def _check_scopes(loaded: LoadedCredentials, needed: Sequence[str]) -> None:
    granted = loaded.credentials.scopes
    if not granted:
        # A token file without scopes: only a request can tell what it allows.
        return
    lacking = scope_names.missing(granted, needed)
    if not lacking:
        return
    names = ", ".join(
        f"{scope_names.short_name(s)} (to {scope_names.PURPOSES.get(s, 'use it')})"
        for s in lacking
    )
    raise GoogleAuthError(
        f"The Google {loaded.description} does not allow {names}. Sign in again "
        f"with `gradebot auth login {login_flags(needed)}`."
    )


def login_flags(needed: Sequence[str]) -> str:
    """Return the ``--for`` flags of ``gradebot auth login`` that grant ``needed``."""
    by_scope = {scope: feature for feature, scope in scope_names.FEATURE_SCOPES.items()}
    flags = [f"--for {by_scope[s]}" for s in needed if s in by_scope]
    return " ".join(flags) or "--scope drive"


def save_token(credentials: Any, path: Path) -> None:
    """Write an authorized-user token to ``path`` atomically, with mode 0600.

    The temporary file is created by ``mkstemp``, which opens it with mode 0600,
    so the token is never readable by others, even for a moment.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temp_name = tempfile.mkstemp(
        dir=path.parent, prefix=".google-token-", suffix=".tmp"
    )
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(credentials.to_json())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


class TokenSaver:
    """Writes the stored sign-in back after google-auth refreshes its token."""

    def __init__(self, loaded: LoadedCredentials) -> None:
        self._loaded = loaded
        self._saved = loaded.credentials.token
        self._lock = threading.Lock()

    def save_if_refreshed(self) -> None:
        path = self._loaded.token_path
        if path is None:
            return
        credentials = self._loaded.credentials
        with self._lock:
            if credentials.token == self._saved:
                return
            try:
                save_token(credentials, path)
            except OSError as exc:
                # The run goes on with the token in memory; the next run refreshes.
                log.warning(
                    "Could not save the refreshed Google token to %s: %s", path, exc
                )
                return
            self._saved = credentials.token


def refresh_failure(loaded: LoadedCredentials, error: Exception) -> GoogleAuthError:
    """Turn google-auth's RefreshError into one message that names the fix."""
    code, detail = _oauth_error(error)
    if loaded.source == SOURCE_SERVICE_ACCOUNT:
        return GoogleAuthError(
            f"Google rejected the token request of the {loaded.description}: {code}"
            f"{': ' + detail if detail else ''}. Check the key is current and, with "
            f"{ENV_SUBJECT}, that domain-wide delegation allows the scopes gradebot "
            "needs (see docs/google.md)."
        )
    if code == "invalid_grant":
        return GoogleAuthError(
            f"The Google {loaded.description} has expired or was revoked "
            f"(invalid_grant). {LOGIN_HINT}"
        )
    return GoogleAuthError(
        f"Refreshing the token of the {loaded.description} failed: {code}"
        f"{': ' + detail if detail else ''}. {LOGIN_HINT}"
    )


def _oauth_error(error: Exception) -> tuple[str, str]:
    args: tuple[Any, ...] = tuple(getattr(error, "args", ()))
    if len(args) > 1 and isinstance(args[1], dict):
        body = args[1]
        return str(body.get("error", "error")), str(body.get("error_description", ""))
    text = str(args[0]) if args else str(error)
    code, _, detail = text.partition(":")
    return code.strip() or "error", detail.strip()


def revoke_url(token_uri: str) -> str:
    """Return the revocation endpoint beside a token endpoint.

    Google's token endpoint is ``https://oauth2.googleapis.com/token`` and its
    revocation endpoint ``https://oauth2.googleapis.com/revoke``.
    """
    parts = urllib.parse.urlsplit(token_uri)
    path = parts.path.rsplit("/", 1)[0] + "/revoke"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def revoke(credentials: Any, timeout: float = 30.0) -> str | None:
    """Revoke the refresh token (or access token) at Google.

    Returns None on success, else what went wrong; an already revoked token
    counts as success.
    """
    import httplib2

    token = credentials.refresh_token or credentials.token
    if not token:
        return "there was no token to revoke"
    url = revoke_url(credentials.token_uri)
    body = urllib.parse.urlencode({"token": token})
    http = httplib2.Http(timeout=timeout)
    try:
        response, content = http.request(
            url,
            "POST",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    except (OSError, httplib2.HttpLib2Error) as exc:
        return f"{url} could not be reached ({exc})"
    finally:
        http.close()
    if response.status == 200:
        return None
    if response.status == 400 and b"invalid_token" in content:
        return None
    return f"{url} answered HTTP {response.status}"
