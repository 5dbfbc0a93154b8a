"""OAuth scopes: which features need which, and which scope covers another.

gradebot requests the narrowest set that the configured features need:

===============  ===========================================  ====================
Feature          Scope                                        Google's class
===============  ===========================================  ====================
read             ``drive.readonly``: read the class folder    restricted
doc              ``drive.file``: create and update feedback   non-sensitive
                 Docs that gradebot itself created
append           ``documents``: edit students' own Docs       sensitive
===============  ===========================================  ====================

Sharing a feedback Doc needs nothing more: ``drive.file`` covers the permissions
of files the app created. The classes come from Google's "Choose Google Drive API
scopes" and "Choose Google Docs API scopes" pages.
"""

from __future__ import annotations

from collections.abc import Iterable

from gradebot_cli.errors import ConfigError

PREFIX = "https://www.googleapis.com/auth/"
DRIVE = PREFIX + "drive"
DRIVE_READONLY = PREFIX + "drive.readonly"
DRIVE_FILE = PREFIX + "drive.file"
DOCUMENTS = PREFIX + "documents"
DOCUMENTS_READONLY = PREFIX + "documents.readonly"

FEATURE_SCOPES = {
    "read": DRIVE_READONLY,
    "doc": DRIVE_FILE,
    "append": DOCUMENTS,
}
FEATURES = tuple(FEATURE_SCOPES)
DEFAULT_FEATURES = ("read", "doc")

# Scopes that include every permission of the scopes they map to.
_IMPLIED = {
    DRIVE: {DRIVE_READONLY, DRIVE_FILE, DOCUMENTS, DOCUMENTS_READONLY},
    DRIVE_READONLY: {DOCUMENTS_READONLY},
    DOCUMENTS: {DOCUMENTS_READONLY},
}
SHORT_NAMES = {
    "drive": DRIVE,
    "drive.readonly": DRIVE_READONLY,
    "drive.file": DRIVE_FILE,
    "documents": DOCUMENTS,
    "documents.readonly": DOCUMENTS_READONLY,
}
PURPOSES = {
    DRIVE_READONLY: "read the submissions folder",
    DRIVE_FILE: "create and update feedback Docs",
    DOCUMENTS: "append feedback to students' Docs",
    DRIVE: "read and write any Drive file",
    DOCUMENTS_READONLY: "read Google Docs",
}


def expand(scope: str) -> str:
    """Turn a short name such as ``drive.file`` into the full scope URL."""
    scope = scope.strip()
    if scope.startswith("https://"):
        return scope
    if scope in SHORT_NAMES:
        return SHORT_NAMES[scope]
    names = ", ".join(SHORT_NAMES)
    raise ConfigError(f"Unknown Google scope {scope!r}; use one of {names} or a URL.")


def for_features(features: Iterable[str]) -> list[str]:
    """Return the scopes for feature names (``read``, ``doc``, ``append``)."""
    scopes: list[str] = []
    for feature in features:
        if feature not in FEATURE_SCOPES:
            raise ConfigError(
                f"Unknown feature {feature!r}; use one of {', '.join(FEATURES)}."
            )
        if FEATURE_SCOPES[feature] not in scopes:
            scopes.append(FEATURE_SCOPES[feature])
    return scopes


def missing(granted: Iterable[str], needed: Iterable[str]) -> list[str]:
    """Return the scopes in ``needed`` that ``granted`` does not cover."""
    covered = set(granted)
    for scope in list(covered):
        covered |= _IMPLIED.get(scope, set())
    return [scope for scope in needed if scope not in covered]


def short_name(scope: str) -> str:
    return scope.removeprefix(PREFIX)
