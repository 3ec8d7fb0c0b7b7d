"""The hand-off URL that sends a signed-in browser into a license center."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

HANDOFF_PARAMETERS = ("login_hint", "target_link_uri")


def handoff_url(entry_url: str, *, login_hint: str, target_link_uri: str) -> str:
    """`entry_url` with the OIDC third-party-initiated login parameters (Core §4).

    When the OIDC provider lands this targets the system's `initiate_login_uri`
    and gains `iss`; callers do not change.
    """
    parts = urlsplit(entry_url)
    kept = [
        (name, value)
        for name, value in parse_qsl(parts.query, keep_blank_values=True)
        if name not in HANDOFF_PARAMETERS
    ]
    query = urlencode([*kept, ("login_hint", login_hint), ("target_link_uri", target_link_uri)])
    return urlunsplit(parts._replace(query=query))
