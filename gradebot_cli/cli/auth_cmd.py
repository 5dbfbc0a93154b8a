"""``gradebot auth``: sign in to Google, show the sign-in, sign out."""

from __future__ import annotations

from pathlib import Path

import click

from gradebot_cli.cli.common import json_option, print_json


@click.group()
def auth() -> None:
    """Sign in to Google Drive and Docs, show the sign-in, or sign out.

    On a server, set GRADEBOT_GOOGLE_SERVICE_ACCOUNT or GRADEBOT_GOOGLE_CREDENTIALS
    instead of signing in (see docs/google.md); they take precedence over the
    stored sign-in.
    """


@auth.command()
@click.option(
    "--client-secrets",
    type=click.Path(path_type=Path, dir_okay=False),
    envvar="GRADEBOT_GOOGLE_CLIENT_SECRETS",
    required=True,
    help="Your OAuth client file (a 'Desktop app' client downloaded from the "
    "Google Cloud console). Env: GRADEBOT_GOOGLE_CLIENT_SECRETS.",
)
@click.option(
    "--for",
    "features",
    multiple=True,
    type=click.Choice(["read", "doc", "append"]),
    help="What gradebot may do: read (the submissions folder), doc (create "
    "feedback Docs), append (edit students' Docs). Repeatable. "
    "Default: read and doc.",
)
@click.option(
    "--scope",
    "extra_scopes",
    multiple=True,
    metavar="SCOPE",
    help="Request this OAuth scope instead of the --for set (a URL or a short "
    "name such as drive). Repeatable.",
)
@click.option(
    "--no-browser",
    is_flag=True,
    help="Print the sign-in address instead of opening a browser (for SSH "
    "sessions); paste the address the browser ends on to finish.",
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 for the sign-in redirect; 0 picks a free one. Set "
    "it to forward the port over SSH.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=10),
    default=300.0,
    show_default=True,
    help="Seconds to wait for the sign-in to finish.",
)
def login(
    client_secrets: Path,
    features: tuple[str, ...],
    extra_scopes: tuple[str, ...],
    no_browser: bool,
    port: int,
    timeout: float,
) -> None:
    """Sign in to Google in a browser and store the token in GRADEBOT_HOME.

    The token file is created with mode 0600 and refreshed automatically.
    """
    import sys
    import webbrowser

    from gradebot_cli.google import scopes as scope_names
    from gradebot_cli.google.auth import read_stored, save_token, token_path
    from gradebot_cli.google.login import login as run_login
    from gradebot_cli.google.login import read_client_config
    from gradebot_cli.google.status import status_of

    config = read_client_config(client_secrets)
    if extra_scopes:
        scopes = [scope_names.expand(s) for s in extra_scopes]
    else:
        scopes = scope_names.for_features(features or scope_names.DEFAULT_FEATURES)
    credentials = run_login(
        config,
        scopes,
        show=lambda text: click.echo(text, err=True),
        open_browser=None if no_browser else webbrowser.open,
        # A pasted address also finishes sign-in when no browser could open.
        read_pasted=sys.stdin.readline if no_browser or sys.stdin.isatty() else None,
        port=port,
        timeout=timeout,
    )
    path = token_path()
    save_token(credentials, path)
    account = status_of(read_stored(path))
    granted = ", ".join(scope_names.short_name(s) for s in account.scopes or scopes)
    click.echo(
        f"Signed in as {account.name} <{account.email}>. Token saved to {path} "
        f"(scopes: {granted}).",
        err=True,
    )


@auth.command()
@json_option
def status(as_json: bool) -> None:
    """Show which Google account and credentials gradebot uses.

    Asks Drive for the account, so it also checks that the credentials work.
    """
    from gradebot_cli.google import scopes as scope_names
    from gradebot_cli.google.status import auth_status

    result = auth_status()
    if as_json:
        print_json(
            {
                "source": result.source,
                "email": result.email,
                "name": result.name,
                "scopes": list(result.scopes),
                "expiry": result.expiry,
            }
        )
        return
    scopes = (
        ", ".join(scope_names.short_name(s) for s in result.scopes) or "not recorded"
    )
    click.echo(f"Account:     {result.name} <{result.email}>")
    click.echo(f"Credentials: {result.source}")
    click.echo(f"Scopes:      {scopes}")
    click.echo(f"Token valid until: {result.expiry or 'unknown'}")


@auth.command()
def logout() -> None:
    """Revoke the stored Google sign-in and delete its token file."""
    from gradebot_cli.google.status import logout as run_logout

    result = run_logout()
    if not result.deleted:
        click.echo(f"Not signed in: {result.path} does not exist.", err=True)
    elif result.revoke_problem:
        click.echo(
            f"Deleted {result.path}, but revoking at Google failed: "
            f"{result.revoke_problem}. Remove gradebot's access at "
            "https://myaccount.google.com/permissions.",
            err=True,
        )
    else:
        click.echo(
            f"Signed out: the token was revoked and {result.path} deleted.", err=True
        )
    for name in result.environment:
        click.echo(
            f"{name} is still set, so gradebot keeps using those credentials; "
            "unset it to stop.",
            err=True,
        )
