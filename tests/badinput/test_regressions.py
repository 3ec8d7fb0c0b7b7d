"""The exact inputs the bad-input properties found, each once, as plain tests: what
used to be a 500 (or an ERROR in the log) and what it is now."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from gateway.directory.service import ImportRejected, import_file
from tests.badinput.harness import answered_safely, snapshot
from tests.provider.conftest import RelyingParty
from tests.world import World

SCIM_JSON = "application/scim+json"


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


def test_a_post_to_a_scim_path_with_a_line_break_is_a_scim_error(
    app: Flask, client: FlaskClient, scim_token: str
) -> None:
    # /Users/%0A matched only /Users/<public_id> (werkzeug's path converter stops at a
    # newline), so a POST there was the app's HTML 405, not SCIM's Error message.
    reply = answered_safely(
        app,
        lambda: client.post(
            "/scim/v2/Users/%0A%27",
            data=b"{}",
            headers={"Authorization": f"Bearer {scim_token}", "Content-Type": SCIM_JSON},
        ),
    )
    assert reply.status_code == 404
    assert reply.mimetype == SCIM_JSON


def test_scim_paging_beyond_any_integer_column_is_answered(
    app: Flask, client: FlaskClient, scim_token: str
) -> None:
    reply = answered_safely(
        app,
        lambda: client.get(
            "/scim/v2/Users",
            query_string={"startIndex": str(10**20), "count": str(10**20)},
            headers={"Authorization": f"Bearer {scim_token}"},
        ),
    )
    assert reply.status_code < 500


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("nul.csv", b"account_number,name\n100100,Ac\x00me\n", "line 2: name: holds a NUL"),
        ("nul.jsonl", b'{"account_number": "1001\\u00000", "name": "A"}\n', "account_number"),
        ("deep.jsonl", b"[" * 100_000 + b"\n", "line 1: not valid JSON: nested too deeply"),
    ],
)
def test_an_import_file_with_nul_or_deep_nesting_is_refused_whole(
    app: Flask, dbs: Session, world: World, tmp_path: Path, name: str, data: bytes, reason: str
) -> None:
    # NUL: a psycopg DataError out of the import on PostgreSQL (and stored on SQLite);
    # deep nesting: a RecursionError out of the JSON decoder.
    path = tmp_path / name
    path.write_bytes(data)
    before = snapshot(app)
    with pytest.raises(ImportRejected) as refused:
        import_file(dbs, "accounts", path)
    assert reason in str(refused.value.errors[0])
    dbs.rollback()
    assert snapshot(app) == before


def test_the_scim_root_is_a_scim_error(app: Flask, client: FlaskClient, scim_token: str) -> None:
    # No converter matches an empty path: /scim/v2/ was the app's HTML 404.
    reply = answered_safely(
        app, lambda: client.get("/scim/v2/", headers={"Authorization": f"Bearer {scim_token}"})
    )
    assert reply.status_code == 404
    assert reply.mimetype == SCIM_JSON


@pytest.mark.parametrize("path", ["/scim/v2/Users", "/scim/v2/Users/.search"])
def test_a_scim_body_nested_too_deeply_is_invalid_syntax(
    app: Flask, client: FlaskClient, scim_token: str, path: str
) -> None:
    # The JSON decoder raised RecursionError, which get_json(silent=True) lets through: a 500.
    reply = answered_safely(
        app,
        lambda: client.post(
            path,
            data=b"[" * 100_000,
            headers={"Authorization": f"Bearer {scim_token}", "Content-Type": SCIM_JSON},
        ),
    )
    assert reply.status_code == 400
    assert reply.get_json()["scimType"] == "invalidSyntax"


@pytest.mark.parametrize("response_type", ["é", 'co"de', "code\\", "\x01"])
def test_a_response_type_authlib_cannot_quote_is_refused_with_a_page(
    app: Flask, client: FlaskClient, rp: RelyingParty, response_type: str
) -> None:
    # authlib put the value in an error description that must be plain ASCII and raised
    # ValueError building the error: a 500.
    query = {"client_id": rp.client_id, "redirect_uri": rp.redirect_uri, "prompt": "none"}
    reply = answered_safely(
        app,
        lambda: client.get(
            "/oidc/authorize", query_string={**query, "response_type": response_type}
        ),
    )
    assert reply.status_code == 400
    assert "unsupported_response_type" in reply.get_data(as_text=True)
