"""A test certificate authority and server certificate for loopback fakes.

One CA is made per test process (with ``trustme``) and its PEM is written to a
temporary file that is removed at exit. The fake servers present a leaf
certificate for ``127.0.0.1`` and ``localhost`` signed by that CA.

httplib2, which google-api-python-client and google-auth-httplib2 use, reads the
``HTTPLIB2_CA_CERTS`` environment variable once, when ``httplib2`` is first
imported, and stores the path in ``httplib2.CA_CERTS``. :func:`trust_in_httplib2`
therefore sets both, so it works whether or not httplib2 was imported already.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import ssl
import sys
import tempfile

import trustme

SERVER_NAMES = ("127.0.0.1", "localhost")


@functools.cache
def session_ca() -> trustme.CA:
    """Return the certificate authority shared by every fake in this process."""
    return trustme.CA(organization_name="gradebot test CA")


@functools.cache
def ca_file() -> str:
    """Write the CA certificate to a temporary PEM file and return its path."""
    handle, path = tempfile.mkstemp(prefix="gradebot-test-ca-", suffix=".pem")
    os.close(handle)
    session_ca().cert_pem.write_to_path(path)
    atexit.register(_remove_quietly, path)
    return path


@functools.cache
def _leaf_cert() -> trustme.LeafCert:
    return session_ca().issue_cert(*SERVER_NAMES)


def server_context() -> ssl.SSLContext:
    """Build a server-side TLS context that presents the loopback certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _leaf_cert().configure_cert(context)
    return context


def client_context() -> ssl.SSLContext:
    """Build a client-side TLS context that trusts the test CA."""
    context = ssl.create_default_context()
    session_ca().configure_trust(context)
    return context


def trust_in_httplib2() -> str:
    """Make httplib2 verify servers against the test CA; return the CA file path.

    Sets ``HTTPLIB2_CA_CERTS`` for processes started later and, because httplib2
    copies that variable into ``httplib2.CA_CERTS`` at import time, also updates
    the module attribute when httplib2 is already imported.
    """
    path = ca_file()
    os.environ["HTTPLIB2_CA_CERTS"] = path
    httplib2 = sys.modules.get("httplib2")
    if httplib2 is not None:
        httplib2.CA_CERTS = path  # type: ignore[attr-defined]
    return path


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)
