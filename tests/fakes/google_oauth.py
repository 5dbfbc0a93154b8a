"""The fake's OAuth 2.0 server: authorization, token, revocation, token info.

Grants accepted at the token endpoint, with the error bodies Google sends:

* ``authorization_code``, with PKCE when the authorization request had a
  ``code_challenge``. A refresh token is issued only for ``access_type=offline``.
* ``refresh_token``. A revoked or unknown token gives 400 ``invalid_grant``
  "Token has been expired or revoked.".
* ``urn:ietf:params:oauth:grant-type:jwt-bearer`` for service accounts. The
  assertion's RS256 signature is checked against the public half of a key the
  fake generated, and a ``sub`` claim makes the token act as that user
  (domain-wide delegation) if the service account is allowed to delegate.

google-auth signs service-account assertions with the audience
``https://oauth2.googleapis.com/token`` whatever ``token_uri`` is, so that
audience is accepted along with the fake's own token URI. A self-signed JWT
from a service account is also accepted as a bearer token, as the real APIs do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tests.fakes.google_errors import ApiError, oauth_error
from tests.fakes.google_server import Clock, Request, Response

JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
DEFAULT_SCOPES = (
    "https://www.googleapis.com/auth/drive",
    "https://www.googleapis.com/auth/documents",
)
EXPIRED_OR_REVOKED = "Token has been expired or revoked."
# Google rejects assertions that live longer than an hour and allows some clock
# skew between the signer and its own clock.
MAX_ASSERTION_LIFETIME = 3600
CLOCK_SKEW = 300


@dataclass
class Grant:
    """One user's consent to one client, the source of its refresh token."""

    email: str
    client_id: str
    scopes: list[str]
    refresh_token: str | None = None
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    email: str
    scopes: list[str]
    client_id: str
    expires_at: float
    grant: Grant | None = None
    expired: bool = False


@dataclass
class ServiceAccount:
    email: str
    key_id: str
    client_id: str
    private_key_pem: str
    public_key: rsa.RSAPublicKey
    delegation: bool


@dataclass
class _PendingCode:
    client_id: str
    redirect_uri: str
    scopes: list[str]
    email: str
    offline: bool
    challenge: str | None
    challenge_method: str


@dataclass
class OAuthServer:
    """OAuth clients, grants and tokens, and the HTTP endpoints that use them."""

    clock: Clock
    user_exists: Callable[[str], bool]
    access_token_lifetime: int = 3599
    clients: dict[str, str] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, AccessToken] = field(default_factory=dict)
    service_accounts: dict[str, ServiceAccount] = field(default_factory=dict)
    codes: dict[str, _PendingCode] = field(default_factory=dict)
    consent: str = "approve"
    signed_in_user: str = ""
    token_uris: set[str] = field(default_factory=set)

    # -- helpers for tests ---------------------------------------------------

    def add_client(self, client_id: str, secret: str) -> None:
        self.clients[client_id] = secret

    def issue_refresh_token(self, email: str, client_id: str, scopes: list[str]) -> str:
        token = "1//0" + secrets.token_urlsafe(48)
        self.grants[token] = Grant(email, client_id, list(scopes), token)
        return token

    def issue_access_token(
        self, email: str, scopes: list[str], client_id: str, grant: Grant | None
    ) -> AccessToken:
        token = "ya29.a0" + secrets.token_urlsafe(80)
        expires_at = self.clock.time() + self.access_token_lifetime
        issued = AccessToken(token, email, list(scopes), client_id, expires_at, grant)
        self.tokens[token] = issued
        return issued

    def expire_all(self) -> None:
        for issued in self.tokens.values():
            issued.expired = True

    def revoke(self, token: str) -> bool:
        """Revoke a refresh or access token and everything issued from its grant."""
        grant = self.grants.get(token)
        issued = self.tokens.get(token)
        if grant is None and issued is not None:
            grant = issued.grant
            issued.expired = True
        if grant is None:
            return issued is not None
        grant.revoked = True
        for other in self.tokens.values():
            if other.grant is grant:
                other.expired = True
        return True

    def add_service_account(self, email: str, delegation: bool) -> ServiceAccount:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        account = ServiceAccount(
            email,
            secrets.token_hex(20),
            str(secrets.randbelow(10**21)).rjust(21, "1"),
            pem,
            key.public_key(),
            delegation,
        )
        self.service_accounts[email] = account
        return account

    # -- bearer tokens --------------------------------------------------------

    def authenticate(self, header: str | None) -> AccessToken | None:
        """Return the valid token in an ``Authorization`` header, or None."""
        if not header or not header.lower().startswith("bearer "):
            return None
        token = header.split(" ", 1)[1].strip()
        issued = self.tokens.get(token)
        if issued is not None:
            if issued.expired or self.clock.time() >= issued.expires_at:
                return None
            if issued.grant is not None and issued.grant.revoked:
                return None
            return issued
        if token.count(".") == 2:
            return self._self_signed(token)
        return None

    def _self_signed(self, token: str) -> AccessToken | None:
        try:
            account, claims = self._verify_jwt(token)
        except ApiError:
            return None
        if claims.get("iss") != account.email or claims.get("exp", 0) < time.time():
            return None
        scopes = str(claims.get("scope") or " ".join(DEFAULT_SCOPES)).split()
        return AccessToken(
            token, account.email, scopes, account.client_id, claims["exp"]
        )

    # -- endpoints ------------------------------------------------------------

    def token_endpoint(self, request: Request) -> Response:
        form = _form(request)
        grant_type = form.get("grant_type", "")
        if grant_type == "refresh_token":
            body = self._refresh(form, request)
        elif grant_type == "authorization_code":
            body = self._exchange_code(form, request)
        elif grant_type == JWT_BEARER:
            body = self._jwt_bearer(form)
        else:
            raise oauth_error(
                400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}"
            )
        return _json_response(body)

    def _client(self, form: dict[str, str], request: Request) -> str:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        basic = request.header("authorization") or ""
        if basic.lower().startswith("basic "):
            decoded = base64.b64decode(basic[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            client_id = urllib.parse.unquote(client_id)
            secret = urllib.parse.unquote(secret)
        if client_id not in self.clients:
            raise oauth_error(401, "invalid_client", "The OAuth client was not found.")
        if self.clients[client_id] != secret:
            raise oauth_error(401, "invalid_client", "Unauthorized")
        return client_id

    def _refresh(self, form: dict[str, str], request: Request) -> dict[str, Any]:
        client_id = self._client(form, request)
        token = form.get("refresh_token")
        if not token:
            raise oauth_error(
                400, "invalid_request", "Missing required parameter: refresh_token"
            )
        grant = self.grants.get(token)
        if grant is None or grant.revoked or grant.client_id != client_id:
            raise oauth_error(400, "invalid_grant", EXPIRED_OR_REVOKED)
        scopes = form.get("scope", "").split() or grant.scopes
        unknown = [scope for scope in scopes if scope not in grant.scopes]
        if unknown:
            raise oauth_error(
                400, "invalid_scope", f"Some requested scopes were invalid: {unknown}"
            )
        issued = self.issue_access_token(grant.email, scopes, client_id, grant)
        return self._token_body(issued)

    def _exchange_code(self, form: dict[str, str], request: Request) -> dict[str, Any]:
        client_id = self._client(form, request)
        pending = self.codes.pop(form.get("code", ""), None)
        if pending is None or pending.client_id != client_id:
            raise oauth_error(400, "invalid_grant", "Malformed auth code.")
        if form.get("redirect_uri") != pending.redirect_uri:
            raise oauth_error(400, "redirect_uri_mismatch", "Bad Request")
        _check_pkce(pending, form.get("code_verifier"))
        grant = Grant(pending.email, client_id, pending.scopes)
        body: dict[str, Any] = {}
        if pending.offline:
            grant.refresh_token = "1//0" + secrets.token_urlsafe(48)
            self.grants[grant.refresh_token] = grant
            body["refresh_token"] = grant.refresh_token
        issued = self.issue_access_token(
            pending.email, pending.scopes, client_id, grant
        )
        return {**self._token_body(issued), **body}

    def _token_body(self, issued: AccessToken) -> dict[str, Any]:
        return {
            "access_token": issued.token,
            "expires_in": self.access_token_lifetime,
            "scope": " ".join(issued.scopes),
            "token_type": "Bearer",
        }

    def _jwt_bearer(self, form: dict[str, str]) -> dict[str, Any]:
        account, claims = self._verify_jwt(form.get("assertion", ""))
        audience = claims.get("aud")
        if audience != GOOGLE_TOKEN_AUDIENCE and audience not in self.token_uris:
            raise oauth_error(
                400,
                "invalid_grant",
                f"Invalid JWT: Failed audience check. The right audience is "
                f"{GOOGLE_TOKEN_AUDIENCE}",
            )
        _check_assertion_times(claims)
        scopes = str(claims.get("scope") or "").split()
        if not scopes:
            raise oauth_error(
                400,
                "invalid_scope",
                "Invalid OAuth scope or ID token audience provided.",
            )
        email = self._acting_user(account, claims.get("sub"))
        issued = self.issue_access_token(email, scopes, account.client_id, None)
        return {
            "access_token": issued.token,
            "expires_in": self.access_token_lifetime,
            "token_type": "Bearer",
        }

    def _acting_user(self, account: ServiceAccount, subject: Any) -> str:
        if not subject or subject == account.email:
            return account.email
        if not account.delegation:
            raise oauth_error(
                401,
                "unauthorized_client",
                "Client is unauthorized to retrieve access tokens using this "
                "method, or client not authorized for any of the scopes requested.",
            )
        if not self.user_exists(str(subject)):
            raise oauth_error(400, "invalid_grant", "Invalid email or User ID")
        return str(subject)

    def _verify_jwt(self, token: str) -> tuple[ServiceAccount, dict[str, Any]]:
        """Check an RS256 JWT's signature and return its service account and claims."""
        try:
            header_b64, claims_b64, signature_b64 = token.split(".")
            header = json.loads(_b64decode(header_b64))
            claims = json.loads(_b64decode(claims_b64))
            signature = _b64decode(signature_b64)
        except ValueError:
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.") from None
        account = self.service_accounts.get(str(claims.get("iss")))
        if account is None or header.get("kid") not in (None, account.key_id):
            raise oauth_error(400, "invalid_grant", "Invalid grant: account not found")
        if header.get("alg") != "RS256":
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.")
        try:
            account.public_key.verify(
                signature,
                f"{header_b64}.{claims_b64}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            raise oauth_error(400, "invalid_grant", "Invalid JWT Signature.") from None
        return account, claims

    def revoke_endpoint(self, request: Request) -> Response:
        token = _form(request).get("token") or request.param("token") or ""
        if not self.revoke(token):
            raise oauth_error(400, "invalid_token", "Token expired or revoked")
        return _json_response({})

    def tokeninfo_endpoint(self, request: Request) -> Response:
        token = _form(request).get("access_token") or request.param("access_token")
        issued = self.authenticate(f"Bearer {token}" if token else None)
        if issued is None:
            raise oauth_error(400, "invalid_token", "Invalid Value")
        remaining = max(0, int(issued.expires_at - self.clock.time()))
        body = {
            "azp": issued.client_id,
            "aud": issued.client_id,
            "sub": subject_id(issued.email),
            "scope": " ".join(issued.scopes),
            "exp": str(int(issued.expires_at)),
            "expires_in": str(remaining),
            "access_type": "offline"
            if issued.grant and issued.grant.refresh_token
            else "online",
        }
        if any(scope.endswith("email") or scope == "email" for scope in issued.scopes):
            body["email"] = issued.email
            body["email_verified"] = "true"
        return _json_response(body)

    def authorize_endpoint(self, request: Request) -> Response:
        """Consent screen: redirect back at once with a code (or access_denied)."""
        client_id = request.param("client_id") or ""
        redirect_uri = request.param("redirect_uri") or ""
        if client_id not in self.clients:
            return Response(
                401,
                b"Error 401: invalid_client. The OAuth client was not found.",
                "text/html; charset=utf-8",
            )
        params = {"state": request.param("state") or ""}
        if self.consent == "approve":
            code = "4/0" + secrets.token_urlsafe(40)
            scopes = (request.param("scope") or "").split()
            self.codes[code] = _PendingCode(
                client_id,
                redirect_uri,
                scopes,
                request.param("login_hint") or self.signed_in_user,
                request.param("access_type") == "offline",
                request.param("code_challenge"),
                request.param("code_challenge_method") or "plain",
            )
            params.update(code=code, scope=" ".join(scopes))
        else:
            params["error"] = "access_denied"
        separator = "&" if "?" in redirect_uri else "?"
        location = redirect_uri + separator + urllib.parse.urlencode(params)
        return Response(302, b"", "text/html", {"Location": location})


def _check_pkce(pending: _PendingCode, verifier: str | None) -> None:
    if pending.challenge is None:
        return
    if not verifier:
        raise oauth_error(400, "invalid_grant", "Missing code verifier.")
    if pending.challenge_method == "S256":
        digest = hashlib.sha256(verifier.encode()).digest()
        computed = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    else:
        computed = verifier
    if computed != pending.challenge:
        raise oauth_error(400, "invalid_grant", "Invalid code verifier.")


def _check_assertion_times(claims: dict[str, Any]) -> None:
    now = time.time()
    issued, expires = claims.get("iat"), claims.get("exp")
    valid = (
        isinstance(issued, (int, float))
        and isinstance(expires, (int, float))
        and issued <= now + CLOCK_SKEW
        and expires >= now - CLOCK_SKEW
        and expires - issued <= MAX_ASSERTION_LIFETIME
    )
    if not valid:
        raise oauth_error(
            400,
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token (60 minutes) and in a "
            "reasonable timeframe. Check your iat and exp values in the JWT claim.",
        )


def _form(request: Request) -> dict[str, str]:
    content_type = request.header("content-type") or ""
    if "json" in content_type:
        data = json.loads(request.body or b"{}")
        return {str(key): str(value) for key, value in data.items()}
    parsed = urllib.parse.parse_qs(request.body.decode(), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def subject_id(email: str) -> str:
    return str(int(hashlib.sha256(email.encode()).hexdigest(), 16))[:21]


def _json_response(body: dict[str, Any]) -> Response:
    return Response(
        200,
        json.dumps(body, indent=2).encode(),
        headers={"Cache-Control": "no-cache, no-store, max-age=0, must-revalidate"},
    )
