"""Signed-in clients of the entitlements tests (from tests/it_console.py)."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import https_client
from tests.it_console import admin_client, it_client, user_client
from tests.saml_idp import PortalIdP
from tests.signin import sign_in
from tests.world import World

__all__ = ["admin_client", "it_client", "user_client"]


@pytest.fixture
def portal_client(app: Flask, idp: PortalIdP, world: World) -> FlaskClient:
    """portal@ready.example: the community portal only, no licensing, no downloads."""
    client = https_client(app)
    sign_in(client, idp, email="portal@ready.example", account="100001")
    return client
