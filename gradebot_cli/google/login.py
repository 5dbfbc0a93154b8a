"""``gradebot auth login``: the installed-app OAuth flow with a loopback redirect.

google-auth-oauthlib's ``InstalledAppFlow`` builds the authorization URL (with
PKCE) and exchanges the code. Google no longer supports the out-of-band "copy
this code" flow, so the browser is always sent back to
``http://127.0.0.1:PORT/``, where gradebot listens. When the browser runs on
another computer (an SSH session), the user either forwards the port
(``ssh -L PORT:127.0.0.1:PORT``) or copies the address the browser was sent to,
which fails to load, and pastes it at the prompt. Either way finishes the
sign-in.
"""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from gradebot_cli.errors import ConfigError, GoogleAuthError
from gradebot_cli.google import scopes as scope_names

DEFAULT_TIMEOUT = 300.0
_DONE_PAGE = (
    "<!DOCTYPE html><meta charset='utf-8'><title>gradebot</title>"
    "<p>{message} You can close this tab.</p>"
)


def read_client_config(path: Path) -> dict[str, Any]:
    """Read an OAuth client file downloaded from the Google Cloud console."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"OAuth client file {path} not found. Download it from the Google Cloud "
            "console (APIs & Services > Credentials) as described in docs/google.md."
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"Cannot read the OAuth client file {path} ({exc})."
        ) from None
    if not isinstance(data, dict) or "installed" not in data:
        kind = next(iter(data), "unknown") if isinstance(data, dict) else "unknown"
        raise ConfigError(
            f"{path} is a {kind!r} OAuth client; gradebot needs a 'Desktop app' "
            "client. Create one in the Google Cloud console (see docs/google.md)."
        )
    return data


class _Redirect:
    """The first redirect that reaches the loopback listener."""

    def __init__(self) -> None:
        # The listener's address, set once it is bound.
        self.base = ""
        self.url = ""
        self.received = threading.Event()

    def offer(self, url: str) -> None:
        if url and not self.received.is_set():
            self.url = url
            self.received.set()


def _listener(port: int, redirect: _Redirect) -> http.server.HTTPServer:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            query = urllib.parse.urlsplit(self.path).query
            params = urllib.parse.parse_qs(query)
            if "code" not in params and "error" not in params:
                self.send_error(404)
                return
            message = (
                "gradebot could not sign in; see the terminal."
                if "error" in params
                else "gradebot is signed in."
            )
            page = _DONE_PAGE.format(message=message).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)
            redirect.offer(redirect.base + self.path)

        def log_message(self, format: str, *args: Any) -> None:
            return

    try:
        return http.server.HTTPServer(("127.0.0.1", port), Handler)
    except OSError as exc:
        raise ConfigError(
            f"Cannot listen on 127.0.0.1:{port} for the sign-in redirect "
            f"({exc.strerror}); choose another --port."
        ) from None


def login(
    client_config: dict[str, Any],
    scopes: Sequence[str],
    *,
    show: Callable[[str], None],
    open_browser: Callable[[str], Any] | None = None,
    read_pasted: Callable[[], str] | None = None,
    port: int = 0,
    timeout: float = DEFAULT_TIMEOUT,
) -> Any:
    """Run the sign-in and return google.oauth2 Credentials with a refresh token.

    ``open_browser`` opens the URL (else it is only shown); ``read_pasted``
    reads a pasted redirect URL or code from the user. Raises GoogleAuthError
    when sign-in is denied, times out or Google refuses the code.
    """
    from google_auth_oauthlib.flow import InstalledAppFlow

    redirect = _Redirect()
    server = _listener(port, redirect)
    bound = server.server_port
    redirect.base = f"http://127.0.0.1:{bound}"
    threading.Thread(
        target=server.serve_forever, daemon=True, name="oauth-redirect"
    ).start()
    try:
        flow = InstalledAppFlow.from_client_config(
            client_config,
            scopes=list(scopes),
            redirect_uri=f"http://127.0.0.1:{bound}/",
        )
        url, _ = flow.authorization_url(access_type="offline", prompt="consent")
        _present(url, bound, show, open_browser, read_pasted, redirect)
        if not redirect.received.wait(timeout):
            raise GoogleAuthError(
                f"No sign-in arrived within {timeout:.0f} seconds; run "
                "`gradebot auth login` again."
            )
        return _finish(flow, redirect.url, scopes)
    finally:
        server.shutdown()
        server.server_close()


def _present(
    url: str,
    port: int,
    show: Callable[[str], None],
    open_browser: Callable[[str], Any] | None,
    read_pasted: Callable[[], str] | None,
    redirect: _Redirect,
) -> None:
    opened = False
    if open_browser is not None:
        show(f"Opening a browser to sign in to Google at:\n\n  {url}\n")
        opened = open_browser(url) is not False
    if not opened:
        show(
            "Open this address in a browser on any computer and sign in:\n\n"
            f"  {url}\n\n"
            f"Google then sends the browser to http://127.0.0.1:{port}/. If that "
            "page does not load (the browser is on another computer), copy the whole "
            "address from the browser's address bar and paste it here."
        )
    if read_pasted is not None:

        def wait_for_paste() -> None:
            while not redirect.received.is_set():
                text = read_pasted()
                if not text:
                    return
                redirect.offer(text.strip())

        threading.Thread(target=wait_for_paste, daemon=True, name="oauth-paste").start()


def _finish(flow: Any, response: str, scopes: Sequence[str]) -> Any:
    from oauthlib.oauth2.rfc6749.errors import (  # type: ignore[import-untyped]
        OAuth2Error,
    )
    from requests import RequestException

    if "://" not in response and "=" not in response:
        kwargs = {"code": response}
    else:
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(response).query)
        if "error" in params:
            raise GoogleAuthError(
                f"Google sign-in was not completed ({params['error'][0]}); run "
                "`gradebot auth login` again and allow access."
            )
        # oauthlib accepts only https:// authorization responses; the redirect
        # itself is plain http on 127.0.0.1.
        kwargs = {"authorization_response": "https" + response.removeprefix("http")}
    try:
        flow.fetch_token(**kwargs)
    except Warning as warning:
        granted = " ".join(getattr(warning, "new_scope", None) or []) or "fewer scopes"
        raise GoogleAuthError(
            f"Google granted only {granted}; gradebot asked for "
            f"{', '.join(scope_names.short_name(s) for s in scopes)}. Run `gradebot auth "
            "login` again and tick every box on the consent screen."
        ) from None
    except (OAuth2Error, ValueError) as exc:
        raise GoogleAuthError(
            f"Google rejected the sign-in code ({exc}); run `gradebot auth login` again."
        ) from None
    except RequestException as exc:
        raise GoogleAuthError(
            f"Could not reach Google's token endpoint ({exc}); check the network and "
            "run `gradebot auth login` again."
        ) from None
    finally:
        flow.oauth2session.close()
    credentials = flow.credentials
    if not credentials.refresh_token:
        raise GoogleAuthError(
            "Google returned no refresh token; remove gradebot's access at "
            "https://myaccount.google.com/permissions and sign in again."
        )
    return credentials
