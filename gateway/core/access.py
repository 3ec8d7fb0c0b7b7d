"""Who may use IT's console and API.

The console needs a signed-in user whose sign-in carried the IT group (session role
`it`); a customer org admin (permission `admin`) is not IT. The API takes a bearer
token with the endpoint's scope. An IT session may also *read* the API from a
browser; writes need a token, because a cookie is an ambient credential (CSRF) and
the API is exempt from form CSRF tokens.

Every /api/v1 route authenticates the same way: `api_caller(scope)` returns the caller
or raises a GatewayError (401/403) that the app's one error handler answers as
problem+json. IT scopes take IT API tokens (or an IT session, for reads); a capability
with tokens of its own (the OIDC provider's client_credentials tokens) registers their
verifier for its scope with `add_token_verifier`; SIGNED_IN takes the session of any
signed-in user.

A token may be limited to one customer account (an account token, with an account
scope such as `users`; older IT tokens could be limited too). Such a caller reaches only routes
about that account (`api_caller(scope, account=...)`): another account's answers 404,
as if it did not exist, and a route about every account (IT's dashboard, say) 403.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Flask, Response, current_app, g, request

from gateway.core.api_tokens import active_token
from gateway.core.db import get_session
from gateway.core.errors import GatewayError
from gateway.core.extensions import limiter
from gateway.core.models import User
from gateway.core.models.api_token import ACCOUNT_SCOPES, API_SCOPES
from gateway.core.secret_keys import secret_keys
from gateway.core.session import current_user, has_role, require_user
from gateway.core.settings import current_settings

READ_SCOPES = frozenset({"rollout:read", "support:read"})
# Not a token scope: any signed-in user, by the session cookie (/api/v1/me).
SIGNED_IN = "signed-in"


class NotAuthorised(GatewayError):
    """Signed in, but not vendor IT (or a token without the scope)."""

    status = 403
    title = "Not allowed"
    event = "rollout.forbidden"


class NotAuthenticated(GatewayError):
    """No valid bearer token (or IT session) on an API request."""

    status = 401
    title = "Authentication required"
    event = "rollout.unauthenticated"


class OutsideTokenAccount(GatewayError):
    """An account-limited token asked about another account: that account is not there."""

    status = 404
    title = "Not found"
    event = "api.outside_token_account"


@dataclass(frozen=True)
class Caller:
    """An authenticated API or console caller and what they may do: `account_number` is
    the one account a limited token may act on (None: no such limit)."""

    name: str
    scopes: frozenset[str]
    user: User | None = None
    account_number: str | None = None


# verify(scope) -> the caller whose token carries `scope`, or raises NotAuthenticated /
# NotAuthorised (with whatever headers the token scheme answers with).
TokenVerifier = Callable[[str], Caller]


def add_token_verifier(app: Flask, scope: str, verify: TokenVerifier) -> None:
    """Let `verify` authenticate every API route that asks for `scope`."""
    app.extensions.setdefault("api_token_verifiers", {})[scope] = verify


def _failure_limit() -> str:
    return current_settings().credential_failure_rate_limit


def _refused_credentials(response: Response) -> bool:
    return response.status_code == 401


def limit_failed_credentials(bp: Blueprint) -> None:
    """Count every 401 that `bp` answers against the caller's address, in one budget that
    every bearer-token blueprint shares (GATEWAY_CREDENTIAL_FAILURE_RATE_LIMIT): someone
    guessing tokens runs out of tries on all of them at once (429), while a caller with a
    good token spends nothing."""
    limiter.shared_limit(
        _failure_limit, scope="bearer-token-failures", deduct_when=_refused_credentials
    )(bp)


def require_it() -> User:
    """The signed-in IT user, or 401 (not signed in) / 403 (signed in, not IT)."""
    user = require_user()
    if not has_role("it"):
        raise NotAuthorised(
            "This page is for the vendor's IT staff. Customer administrators manage their "
            "organisation elsewhere.",
            user_id=user.id,
        )
    return user


def api_caller(scope: str, *, account: str | None = None) -> Caller:
    """The caller of this API request allowed `scope`; else raises 401, 403 or 404.

    An IT scope takes an IT API token (or, for reads, an IT session); an account
    scope (`users`) takes an account token, limited to its account; a registered
    verifier's scope takes its tokens; SIGNED_IN takes any signed-in user's session.
    `account`: the account number the route is about, None for a route about every
    account (an account-limited token may use only the routes about its own)."""
    if scope == SIGNED_IN:
        user = require_user()
        return Caller(user.email, frozenset(), user)
    verifier: TokenVerifier | None = current_app.extensions.get("api_token_verifiers", {}).get(
        scope
    )
    if verifier is not None:
        return within_account(verifier(scope), account)
    assert scope in API_SCOPES or scope in ACCOUNT_SCOPES
    caller = _bearer_caller() or _session_caller()
    if scope not in caller.scopes:
        raise NotAuthorised(f"This needs the {scope!r} scope.", caller=caller.name, scope=scope)
    g.api_caller = caller.name
    return within_account(caller, account)


def within_account(caller: Caller, account: str | None) -> Caller:
    """`caller`, if its token's account limit (if any) admits a route about `account`."""
    if caller.account_number is None or caller.account_number == account:
        return caller
    if account is None:
        raise NotAuthorised(
            "This token is limited to one account; this route is about every account.",
            caller=caller.name,
        )
    raise OutsideTokenAccount(f"No account {account}.", caller=caller.name)


def _bearer_caller() -> Caller | None:
    header = request.headers.get("Authorization", "")
    if not header:
        return None
    kind, _, secret = header.partition(" ")
    found = (
        active_token(get_session(), secret.strip(), secret_keys().api_token)
        if kind.lower() == "bearer"
        else None
    )
    if found is None:
        # Expired, revoked and unknown alike: the answer tells a guesser nothing.
        raise NotAuthenticated("The bearer token is missing, unknown, expired or revoked.")
    return Caller(f"token:{found.name}", found.scopes, account_number=found.account_number)


def _session_caller() -> Caller:
    user = current_user()
    if user is None:
        raise NotAuthenticated("Send an API token: Authorization: Bearer <token>.")
    if not has_role("it"):
        raise NotAuthorised("The IT API is for the vendor's IT staff.", user_id=user.id)
    # Reads only: a session cookie rides along with cross-site requests.
    return Caller(user.email, READ_SCOPES if request.method == "GET" else frozenset())
