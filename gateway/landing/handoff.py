"""The hand-off URL that sends a signed-in browser into a license center.

A license center registered as our OpenID Connect client gets a third-party-initiated
login (OIDC Core §4): its `initiate_login_uri` with `iss`, `login_hint` and
`target_link_uri`; it then runs the code flow against us, and we already hold the
session. A system without a client gets its entry URL with the same hints. Which
of the two a system has is part of the routing configuration (SystemStatus).
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

HANDOFF_PARAMETERS = ("iss", "login_hint", "target_link_uri")


def handoff_url(
    entry_url: str, *, login_hint: str, target_link_uri: str, issuer: str | None = None
) -> str:
    """`entry_url` with the third-party-initiated login parameters, replacing any it had."""
    parts = urlsplit(entry_url)
    kept = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name not in HANDOFF_PARAMETERS
    ]
    hints = [("iss", issuer)] if issuer else []
    hints += [("login_hint", login_hint), ("target_link_uri", target_link_uri)]
    return urlunsplit(parts._replace(query=urlencode([*kept, *hints])))
