"""Every benchmark script runs in smoke mode (tiny sizes) and writes a well-formed row,
so `make bench` never rots. The figures themselves are not checked here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.run import SCRIPTS

pytestmark = pytest.mark.shared_store
ROOT = Path(__file__).resolve().parents[2]
FIGURE_FIELDS = {"name", "ours", "floor", "unit", "ratio", "target", "met", "detail"}


def test_every_benchmark_runs_and_writes_its_rows(tmp_path: Path, redis_url: str | None) -> None:
    if redis_url is None:
        pytest.skip("the benchmarks write sessions and codes into Redis")
    environment = {**os.environ, "BENCH_RESULTS": str(tmp_path), "PYTHONPATH": str(ROOT)}
    finished = subprocess.run(  # noqa: S603 - our own harness, loopback only
        [sys.executable, "-m", "bench.run", "--smoke", "--database-url",
         f"sqlite:///{tmp_path / 'bench.db'}", "--redis-url", redis_url],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-3000:]
    for script in SCRIPTS:
        document = json.loads((tmp_path / f"{script}-smoke.json").read_text())
        assert document["machine"]["smoke"] is True
        assert document["figures"]
        for figure in document["figures"]:
            assert set(figure) == FIGURE_FIELDS
            assert figure["ours"] > 0, figure
    table = (tmp_path / "summary-smoke.md").read_text()
    assert table.count("\n") >= 2 + sum(1 for _ in SCRIPTS)
    assert "ratio" in table and "target" in table
