"""What an upstream OpenID Connect sign-in is allowed to tell us, checked claim by claim.

Pure functions over the provider's answers (no HTTP, no Flask): the id_token's
signature and registered claims; the userinfo response, read for the claims the
id_token lacks (a certified provider puts email and profile there for the code
flow, OIDC Core §5.4) and trusted only when its `sub` is the id_token's (§5.3.2);
the claims request parameter that asks for them in the id_token instead; the
email_verified rule that guards linking to imported users; and the sign-in time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.jwk import KeySet

from gateway.sso.errors import SignInError
from gateway.sso.identity import Identity

REQUIRED_FIELDS = ("subject", "email", "account_number")
EMAIL_VERIFIED = "email_verified"


class OidcSignInRejected(SignInError):
    """The portal's answer failed a check; nothing in it is trusted."""

    event = "oidc.signin_rejected"


def id_token_claims(
    token: Mapping[str, Any],
    *,
    key_set: KeySet,
    algorithms: list[str],
    issuer: str,
    client_id: str,
    nonce: str,
    leeway: int,
) -> dict[str, Any]:
    """Verify the id_token's signature and claims; its claims, or a JoseError."""
    decoded = jwt.decode(str(token.get("id_token") or ""), key_set, algorithms=algorithms)
    options: dict[str, Any] = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": client_id},
        "sub": {"essential": True},
        "exp": {"essential": True},
        "iat": {"essential": True},
        "nonce": {"essential": True, "value": nonce},
    }
    params = {"nonce": nonce, "client_id": client_id, "access_token": token.get("access_token")}
    claims = CodeIDToken(decoded.claims, decoded.header, options, params)
    claims.validate(leeway=leeway)
    return dict(claims)


def wanted_claims(claim_map: Mapping[str, str]) -> list[str]:
    """The claim names our identity fields are read from, plus email_verified."""
    names = [name for field, name in claim_map.items() if field != "subject"]
    return [*names, EMAIL_VERIFIED]


def lacking(claims: Mapping[str, Any], claim_map: Mapping[str, str]) -> list[str]:
    """The wanted claims the id_token does not carry (to be read from userinfo)."""
    return [name for name in wanted_claims(claim_map) if name not in claims]


def claims_request(claim_map: Mapping[str, str]) -> str:
    """The claims request parameter (OIDC Core §5.5): our claims in the id_token too,
    so that a provider honouring it spares the userinfo round trip."""
    essential = {claim_map[field] for field in REQUIRED_FIELDS if field != "subject"}
    essential.add(EMAIL_VERIFIED)
    members = {
        name: ({"essential": True} if name in essential else None)
        for name in wanted_claims(claim_map)
    }
    return json.dumps({"id_token": members, "userinfo": members}, separators=(",", ":"))


def with_userinfo(id_claims: Mapping[str, Any], userinfo: Any) -> dict[str, Any]:
    """The id_token's claims, completed from userinfo; refused unless both name one
    subject (§5.3.2: otherwise the userinfo answer must not be used)."""
    if not isinstance(userinfo, Mapping) or userinfo.get("sub") != id_claims.get("sub"):
        raise OidcSignInRejected(
            "The community portal's user information is about someone else.",
            reason="userinfo sub",
        )
    return {**userinfo, **id_claims}  # what the signed id_token says wins


def signed_in_at(
    claims: Mapping[str, Any], *, now: int, fresh_since: int | None, leeway: int
) -> int:
    """When the person authenticated at the portal: auth_time (never later than now),
    else now. A fresh sign-in needs an auth_time no older than its request."""
    auth_time = claims.get("auth_time")
    if auth_time is not None and (isinstance(auth_time, bool) or not isinstance(auth_time, int)):
        raise OidcSignInRejected(
            "The community portal's identity token did not pass our checks.",
            reason="id_token",
            error="Invalid claim: 'auth_time'",
        )
    if fresh_since is not None and (auth_time is None or auth_time < fresh_since - leeway):
        raise OidcSignInRejected(
            "The community portal did not ask for your password again, as this page needs. "
            "Please sign in again.",
            reason="not fresh",
            auth_time=auth_time,
            requested_at=fresh_since,
        )
    return now if auth_time is None else min(auth_time, now)


def identity_from_claims(
    claims: Mapping[str, Any], claim_map: Mapping[str, str], issuer: str, auth_time: int
) -> Identity:
    """Our identity fields from verified claims, named as GATEWAY_OIDC_CLAIM_MAP says."""

    def value(field: str, *, required: bool) -> str:
        raw = claims.get(claim_map[field])
        text = raw.strip() if isinstance(raw, str) else ""
        if required and not text:
            raise OidcSignInRejected(
                f"The community portal did not send your {field.replace('_', ' ')}.",
                reason="claims",
                claim=claim_map[field],
            )
        return text

    if claims.get(EMAIL_VERIFIED) is not True:
        # Imported users are linked by email: an address the portal does not vouch
        # for (false, or not said at all) could take one over.
        raise OidcSignInRejected(
            "The community portal does not confirm that your email address is verified.",
            reason="email_verified",
            email_verified=repr(claims.get(EMAIL_VERIFIED, "missing"))[:40],
        )
    return Identity(
        subject=value("subject", required=True),
        email=value("email", required=True).lower(),
        first_name=value("first_name", required=False),
        last_name=value("last_name", required=False),
        account_number=value("account_number", required=True),
        issuer=issuer,
        groups=claim_groups(claims, claim_map),
        auth_time=auth_time,
    )


def claim_groups(claims: Mapping[str, Any], claim_map: Mapping[str, str]) -> frozenset[str]:
    """The optional group memberships (they grant roles such as vendor IT, as in SAML)."""
    groups = claims.get(claim_map.get("groups", "groups"))
    if not isinstance(groups, list):
        return frozenset()
    return frozenset(g.strip() for g in groups if isinstance(g, str) and g.strip())
