"""CSV exports are safe to open in a spreadsheet, and product-line codes are one safe
format everywhere they enter: the directory import, the API and the CLI."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.cli import main
from gateway.core.csv_export import csv_text, neutralised
from gateway.core.errors import InvalidChange, NotFound
from gateway.core.models import ProductLine
from gateway.core.models.base import utcnow
from gateway.core.store import Store
from gateway.directory.service import ImportRejected, import_file
from gateway.migration import service
from gateway.routing import counters as metrics
from tests import factories
from tests.it_console import ACTOR, NOW, bearer
from tests.migration.test_cli import gateway_env  # noqa: F401 - fixture
from tests.world import World

FORMULAS = ["=1+1", "+1+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", '=HYPERLINK("http://x","y")']


def strict_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), strict=True))


@pytest.mark.parametrize("cell", FORMULAS)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(cell: str) -> None:
    [header, row] = strict_rows(csv_text(["name", "count"], [[cell, 3]]))
    assert header == ["name", "count"]
    assert row == ["'" + cell, "3"]


def test_ordinary_cells_and_numbers_are_untouched() -> None:
    assert neutralised("NET-GUARD_2.0") == "NET-GUARD_2.0" and neutralised(-5) == -5
    text = csv_text(["a"], [['x, "quoted"\nline'], [""]])
    assert strict_rows(text) == [["a"], ['x, "quoted"\nline'], [""]]


def test_dashboard_export_neutralises_counter_names_and_parses_strictly(
    it_client: FlaskClient, store: Store
) -> None:
    metrics._increment(
        store, utcnow(), ["line:NET:new", "line:=cmd|' /C calc'!A0:new", "error:@evil", "login:new"]
    )
    reply = it_client.get("/it/dashboard.csv?by=day")
    rows = strict_rows(reply.get_data(as_text=True))
    header, body = rows[0], rows[1:]
    assert header == ["period_start", "granularity", "metric", "product_line", "system", "count"]
    cells = {cell for row in body for cell in row}
    assert "'=cmd|' /C calc'!A0" in cells and "'@evil" in cells
    assert not [cell for cell in cells if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert ["line", "NET", "new", "1"] in [row[2:] for row in body]


@pytest.fixture
def seeded_lines(dbs: Session) -> Session:
    factories.system(dbs, "legacy")
    factories.product_line(dbs, "NET_GUARD.v2-1")
    return dbs


@pytest.mark.parametrize("code", ["=NET", "NET GUARD", "NET/1", "NET%", "NÉT", "A" * 65, "+1"])
def test_an_import_refuses_a_malformed_code_and_changes_nothing(
    seeded_lines: Session, tmp_path: Path, code: str
) -> None:
    path = tmp_path / "lines.csv"
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows([["code", "name", "state"], [code, "Line", "legacy"]])
    with pytest.raises(ImportRejected) as rejected:
        import_file(seeded_lines, "product-lines", path)
    errors = rejected.value.errors
    assert errors and {(error.line, error.field) for error in errors} == {(2, "code")}
    codes = seeded_lines.scalars(select(ProductLine.code)).all()
    assert codes == ["NET_GUARD.v2-1"]


def test_an_import_keeps_accepting_valid_codes(seeded_lines: Session, tmp_path: Path) -> None:
    path = tmp_path / "lines.csv"
    path.write_text("code,name,state\nNET_GUARD.v2-1,Renamed,legacy\nCAD-3,CAD,new\n")
    import_file(seeded_lines, "product-lines", path)
    assert sorted(seeded_lines.scalars(select(ProductLine.code))) == ["CAD-3", "NET_GUARD.v2-1"]


def test_the_service_refuses_a_malformed_code_before_looking_it_up(
    dbs: Session, store: Store, world: World
) -> None:
    with pytest.raises(InvalidChange, match="letters, digits"):
        service.change_state(dbs, store, "NET%", "new", None, reason="x", actor=ACTOR, now=NOW)
    with pytest.raises(NotFound):
        service.product_line(dbs, "NE_")  # valid, and a LIKE wildcard is no wildcard here
    assert service.product_line(dbs, "NET").code == "NET"


def test_the_api_answers_422_for_a_malformed_code(
    client: FlaskClient, world: World, token_for: Callable[..., str]
) -> None:
    auth = bearer(token_for("rollout:read", "rollout:write"))
    bad = client.get("/api/v1/product-lines/NET%25", headers=auth)
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert "no product-line code" in bad.get_json()["detail"]
    scheduled = client.post(
        "/api/v1/scheduled-changes",
        json={"product_line": "=NET", "state": "new", "run_at": "2099-01-01T00:00Z", "reason": "x"},
        headers=auth,
    )
    assert scheduled.status_code == 422
    assert client.get("/api/v1/product-lines/NET", headers=auth).status_code == 200


def test_the_cli_names_the_bad_code(
    world: World,
    gateway_env: dict[str, str],  # noqa: F811
) -> None:
    result = CliRunner().invoke(main, ["product-line", "preview", "=NET", "new"], env=gateway_env)
    assert result.exit_code == 1
    assert "'=NET' is no product-line code: use 1-64 letters, digits" in result.output
