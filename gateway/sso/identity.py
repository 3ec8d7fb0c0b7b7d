"""The identity an upstream IdP vouched for, independent of the protocol used."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str
    first_name: str
    last_name: str
    account_number: str
    issuer: str
    session_index: str | None = None
    # IdP group memberships (multi-valued attribute); decides roles such as vendor IT.
    groups: frozenset[str] = frozenset()
    # OpenID Connect: when the person authenticated at the portal (epoch seconds).
    auth_time: int | None = None
