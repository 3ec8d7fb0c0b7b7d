"""GATEWAY_SMTP_URL read into where and how outbound mail is handed over.

    smtp://user:password@mail.example.com:587   STARTTLS, required (refused if not offered)
    smtps://user:password@mail.example.com:465  TLS from the first byte (implicit TLS)
    smtp+plain://127.0.0.1:25                   no encryption: loopback relays only

Both TLS forms verify the server's certificate and host name. Plain SMTP would carry
the invitation links (secrets) and any password in clear, so it is refused for every
host that is not this machine. Kept apart from the mail module so that settings can
check the URL at load time without importing the delivery code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

Security = Literal["starttls", "tls", "plain"]
SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("starttls", 587),
    "smtps": ("tls", 465),
    "smtp+plain": ("plain", 25),
}
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
EXAMPLE = "smtp://user:password@mail.example.com:587 (STARTTLS), smtps://…:465 (TLS)"


@dataclass(frozen=True)
class SmtpTarget:
    """The SMTP server, how the connection is secured, and the login (if any)."""

    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = None

    def __repr__(self) -> str:  # never the password, in a log or a traceback
        return f"SmtpTarget({self.security}://{self.host}:{self.port}, user={self.username!r})"


def parse_smtp_url(url: str) -> SmtpTarget:
    """The target `url` names; ValueError (the settings message) when it names none."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError(f"must be an smtp://, smtps:// or smtp+plain:// URL, e.g. {EXAMPLE}")
    if not parts.hostname:
        raise ValueError(f"names no host; expected e.g. {EXAMPLE}")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ValueError("must not carry a path, query or fragment")
    security, default_port = SCHEMES[parts.scheme]
    try:
        port = parts.port or default_port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if security == "plain" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError(
            "smtp+plain:// (unencrypted) is only for a relay on this machine (localhost); "
            "use smtp:// (STARTTLS) or smtps:// (TLS) for any other host"
        )
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password is not None else None
    if password is not None and not username:
        raise ValueError("has a password but no user name")
    return SmtpTarget(parts.hostname, port, security, username, password)
