"""The demo's sample directory: CSV files in sample/, imported like any customer's data.

The files are templates: system entry URLs and entitlement dates are filled in
when the demo starts, so "expiring soon" stays soon and the stand-in license
centers can listen on any port.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

SAMPLE_DIR = Path(__file__).parent / "sample"

# (kind, file) in foreign-key order. Entitlements come as each license center exports
# them: one file per system, so an entitlement in both files is held by both.
IMPORT_ORDER = (
    ("accounts", "accounts"),
    ("product-lines", "product-lines"),
    ("systems", "systems"),
    ("users", "users"),
    ("entitlements", "entitlements-legacy"),
    ("entitlements", "entitlements-new"),
)

_PLACEHOLDER = re.compile(r"\{(legacy_url|new_url|today([+-]\d+))\}")


@dataclass(frozen=True)
class Destination:
    """Where the routing rule sends a sample user, and why, for the demo's table."""

    # "legacy", "new", "choose", "no-access", "no-entitlements", "it-console" or
    # "support-console"
    key: str
    why: str


# What each sample user meets after signing in, by the routing rule
# (docs/migration.md, "The rule").
DESTINATIONS: dict[str, Destination] = {
    "alice@acme.example": Destination("legacy", "legacy lines only (NetGuard, Insight Analytics)"),
    "hank@acme.example": Destination("legacy", "org admin of Acme; legacy lines only"),
    "bob@globex.example": Destination("new", "CloudVault only, held by the new system"),
    "grace@globex.example": Destination("new", "org admin of Globex; CloudVault only"),
    "carol@initech.example": Destination("choose", "NetGuard (legacy) and EndPoint Shield (new)"),
    "erin@initech.example": Destination("choose", "org admin of Initech; both systems"),
    "dave@initech.example": Destination("no-access", "no licensing or downloads permission"),
    "frank@umbrella.example": Destination("no-entitlements", "only expired entitlements"),
    "it@vendor.example": Destination("it-console", "vendor IT (IdP group switchyard-it)"),
    "sam@vendor.example": Destination(
        "support-console", "vendor support (IdP group switchyard-support)"
    ),
}
# IdP group memberships the development IdP sends (the `groups` attribute).
GROUPS: dict[str, tuple[str, ...]] = {
    "it@vendor.example": ("switchyard-it",),
    "sam@vendor.example": ("switchyard-support",),
}


@dataclass(frozen=True)
class SampleUser:
    """A person the development IdP can sign in as."""

    email: str
    first_name: str
    last_name: str
    account_number: str
    account_name: str
    permissions: tuple[str, ...]
    destination: Destination
    groups: tuple[str, ...] = ()

    @property
    def subject(self) -> str:
        """The stable NameID the portal would send for this person."""
        return f"portal-{self.email}"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


def _rows(name: str, folder: Path = SAMPLE_DIR) -> list[dict[str, str]]:
    with (folder / f"{name}.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def load_sample_users(folder: Path = SAMPLE_DIR) -> tuple[SampleUser, ...]:
    """The sample users, with their account names and expected destinations."""
    accounts = {row["account_number"]: row["name"] for row in _rows("accounts", folder)}
    return tuple(
        SampleUser(
            email=row["email"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            account_number=row["account_number"],
            account_name=accounts[row["account_number"]],
            permissions=tuple(row["permissions"].split()),
            destination=DESTINATIONS[row["email"]],
            groups=GROUPS.get(row["email"], ()),
        )
        for row in _rows("users", folder)
    )


def _filled(name: str, *, legacy_url: str, new_url: str, today: date) -> str:
    """The sample file `name` with its URLs and dates filled in."""
    values = {"legacy_url": legacy_url.rstrip("/"), "new_url": new_url.rstrip("/")}

    def fill(match: re.Match[str]) -> str:
        if match.group(2):
            return (today + timedelta(days=int(match.group(2)))).isoformat()
        return values[match.group(1)]

    return _PLACEHOLDER.sub(fill, (SAMPLE_DIR / f"{name}.csv").read_text())


def render_sample(
    target_dir: Path, *, legacy_url: str, new_url: str, today: date | None = None
) -> list[tuple[str, Path]]:
    """Write the sample files with URLs and dates filled in; (kind, path) in import order."""
    today = today or date.today()
    target_dir.mkdir(parents=True, exist_ok=True)
    rendered = []
    for kind, name in IMPORT_ORDER:
        path = target_dir / f"{name}.csv"
        path.write_text(_filled(name, legacy_url=legacy_url, new_url=new_url, today=today))
        rendered.append((kind, path))
    return rendered


def sample_rows(name: str, today: date) -> list[dict[str, str]]:
    """The rows of sample file `name` (e.g. "entitlements-legacy") with dates filled in,
    for the demo's stand-ins that hold the same customers (no URLs are asked for)."""
    text = _filled(name, legacy_url="", new_url="", today=today)
    return list(csv.DictReader(io.StringIO(text)))


def seed_sample(
    db_session: Session, work_dir: Path, *, legacy_url: str, new_url: str, today: date | None = None
) -> None:
    """Import the sample directory through the regular importer; safe to run again.

    Raises gateway.directory.service.ImportRejected when a file does not import.
    """
    from gateway.directory.service import import_file

    for kind, path in render_sample(work_dir, legacy_url=legacy_url, new_url=new_url, today=today):
        import_file(db_session, kind, path)
