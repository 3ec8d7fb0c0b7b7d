"""Fixtures for the upstream OpenID Connect tests against the loopback stand-in."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from gateway.core.models import Account, System
from tests import factories
from tests.sso.portal_op import CLIENT_ID, CLIENT_SECRET, PortalOP, serve_portal
from tests.sso.test_upstream_oidc import USER


@pytest.fixture(scope="module")
def portal() -> Iterator[PortalOP]:
    with serve_portal() as op:
        yield op


@pytest.fixture
def op(portal: PortalOP) -> Iterator[PortalOP]:
    """The stand-in, reset; whatever it holds is released when the test ends."""
    portal.reset(USER)
    yield portal
    portal.released.set()


def portal_settings(op: PortalOP) -> dict[str, object]:
    """The gateway signing in through the stand-in portal by OpenID Connect."""
    return {
        "oidc_issuer": op.issuer,
        "oidc_client_id": CLIENT_ID,
        "oidc_client_secret": CLIENT_SECRET,
        "login_method": "oidc",
    }


@pytest.fixture
def settings_overrides(op: PortalOP) -> dict[str, object]:
    return portal_settings(op)


@pytest.fixture
def legacy(dbs: Session, account: Account) -> System:
    system = factories.system(dbs, "legacy", "https://legacy.licenses.test/start")
    line = factories.product_line(dbs, "NETGUARD", "legacy")
    factories.entitlement(dbs, account, line, [system])
    return system
