"""Clock skew with the IdP: a signed response whose IssueInstant, NotBefore or
NotOnOrAfter is off by less than GATEWAY_SAML_CLOCK_SKEW_SECONDS (90 s by default) is
accepted; off by more, it is refused with a reason that names what is wrong. In
process (the Flask test client), with real signed XML; no servers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.core.models import User
from gateway.core.settings import Settings
from tests.resilience.scenario import RESULTS, Row
from tests.saml_idp import PortalIdP
from tests.world import World

pytestmark = pytest.mark.resilience
MARGIN = timedelta(seconds=30)  # how far inside or outside the allowed drift


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"saml_idp_initiated": True}


@dataclass(frozen=True)
class Case:
    name: str
    inside: bool  # within the allowed drift: must be accepted
    reason: str  # what a refusal must say ("" when accepted)
    shift: dict[str, timedelta]  # ResponseSpec field -> offset from the SP's now


def cases(skew: timedelta) -> list[Case]:
    inside, outside = skew - MARGIN, skew + MARGIN
    return [
        Case("IdP clock ahead, inside", True, "", {"now": inside}),
        Case("IdP clock behind, inside", True, "", {"now": -inside, "lifetime": -inside}),
        Case("IssueInstant ahead, inside", True, "", {"issue_instant": inside}),
        Case("NotBefore ahead, inside", True, "", {"not_before": inside}),
        Case("NotOnOrAfter passed, inside", True, "", {"not_on_or_after": -inside}),
        Case("IdP clock ahead, beyond", False, "implausible time", {"now": outside}),
        Case("IssueInstant ahead, beyond", False, "implausible time", {"issue_instant": outside}),
        Case("NotBefore ahead, beyond", False, "not yet valid", {"not_before": outside}),
        Case("NotOnOrAfter passed, beyond", False, "has expired", {"not_on_or_after": -outside}),
    ]


def spec_times(case: Case, now: datetime) -> dict[str, Any]:
    """The ResponseSpec fields for one case: times shifted from the SP's `now`."""
    values: dict[str, Any] = {"now": now + case.shift.get("now", timedelta())}
    for field in ("issue_instant", "not_before", "not_on_or_after"):
        if field in case.shift:
            values[field] = now + case.shift[field]
    if "lifetime" in case.shift:  # a clock behind: the assertion still ends in the future
        values["lifetime"] = timedelta(minutes=5)
    return values


def test_clock_skew_within_the_allowed_drift(
    client: FlaskClient, idp: PortalIdP, world: World, dbs: Session, settings: Settings
) -> None:
    skew = timedelta(seconds=settings.saml_clock_skew_seconds)
    answers: Counter[str] = Counter()
    failed: list[str] = []
    for number, case in enumerate(cases(skew)):
        email = f"skew-{number}@ready.example"
        client.delete_cookie("switchyard_session")
        spec = idp.spec(
            email=email, account=world.ready.account_number, **spec_times(case, datetime.now(UTC))
        )
        reply = idp.post(client, idp.response_xml(spec))
        answers[str(reply.status_code)] += 1
        body = reply.get_data(as_text=True)
        created = dbs.scalar(select(User.id).where(User.email == email)) is not None
        dbs.rollback()
        if case.inside and (reply.status_code != 302 or not created):
            failed.append(f"{case.name}: {reply.status_code}, not accepted")
        if not case.inside:
            if reply.status_code in (302, 500) or reply.status_code < 400:
                failed.append(f"{case.name}: {reply.status_code}, not refused")
            elif case.reason not in body:
                failed.append(f"{case.name}: refused without saying '{case.reason}'")
            if created:
                failed.append(f"{case.name}: refused, yet the user was written")
    RESULTS.append(
        Row(
            f"Clock skew ±{(skew - MARGIN).seconds}/{(skew + MARGIN).seconds} s "
            f"(allowed {skew.seconds} s)",
            ", ".join(f"{status}×{n}" for status, n in sorted(answers.items())),
            None,
            None,
            sum(n for status, n in answers.items() if status.startswith("5")),
            "none (refused sign-ins wrote no user)" if not failed else "see expectations",
            failed,
            recovery_text="n/a",
        )
    )
    assert not failed, "\n".join(failed)
