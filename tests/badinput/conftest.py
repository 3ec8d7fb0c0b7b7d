"""Fixtures of the bad-input properties: the shared `world` with its signed-in
clients (tests/it_console.py), account tokens for the users API and SCIM, and a
registered license center for the provider's endpoints.

The Hypothesis profiles are registered here: `badinput-ci` (the default, sized for
`make test`) and `volume` (HYPOTHESIS_PROFILE=volume: thousands of examples per
endpoint). They are applied per test by tests/badinput/harness.fuzz, so loading this
package changes no other test's settings.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from gateway.core.api_tokens import create_account_token
from gateway.core.secret_keys import secret_keys
from tests.badinput import harness
from tests.it_console import ACTOR, admin_client, it_client, user_client
from tests.provider.conftest import RelyingParty, register_legacy_center
from tests.world import World

__all__ = ["admin_client", "it_client", "user_client"]  # fixtures

harness.register_profiles()

# No limit may answer 429 before the examples run out: a 429 would hide the handler.
UNLIMITED = "1000000/minute"


@pytest.fixture(autouse=True)
def show_answers(request: pytest.FixtureRequest) -> Iterator[None]:
    harness.answers.clear()
    yield
    if harness.SHOW_ANSWERS:
        tally = ", ".join(f"{key}: {n}" for key, n in sorted(harness.answers.items()))
        print(f"\n{request.node.name}: {tally}")


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {
        "signin_rate_limit": UNLIMITED,
        "credential_failure_rate_limit": UNLIMITED,
        "oidc_token_rate_limit_per_client": UNLIMITED,
        "oidc_token_rate_limit_per_address": UNLIMITED,
    }


def account_token(app: Flask, db: Session, account: str, scope: str) -> str:
    return create_account_token(
        db, account, scope, actor=ACTOR, now=datetime.now(UTC), hash_key=secret_keys(app).api_token
    ).secret


@pytest.fixture
def users_token(app: Flask, dbs: Session, world: World) -> str:
    """Organisation 100001's token for its users API."""
    return account_token(app, dbs, "100001", "users")


@pytest.fixture
def scim_token(app: Flask, dbs: Session, world: World) -> str:
    """Organisation 100001's token for SCIM."""
    return account_token(app, dbs, "100001", "scim")


@pytest.fixture
def rp(dbs: Session, world: World) -> RelyingParty:
    """The legacy license center, registered as `gateway client add` registers it."""
    return register_legacy_center(dbs)
