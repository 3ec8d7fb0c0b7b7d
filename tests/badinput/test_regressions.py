"""The exact inputs the bad-input properties found, each once, as plain tests: what
used to be a 500 (or an ERROR in the log) and what it is now."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.badinput.harness import answered_safely
from tests.provider.conftest import RelyingParty


@pytest.mark.parametrize("authorization", ["Basic ", "Basic \t "])
def test_a_basic_scheme_with_nothing_after_it_is_invalid_client(
    app: Flask, client: FlaskClient, rp: RelyingParty, authorization: str
) -> None:
    # authlib split the header into one word and raised ValueError: a 500.
    reply = answered_safely(
        app,
        lambda: client.post(
            "/oidc/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": authorization},
        ),
    )
    assert reply.status_code == 401
    assert reply.get_json()["error"] == "invalid_client"
