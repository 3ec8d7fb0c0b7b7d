"""Run our commands as real processes with a clean environment: only PATH, a private
HOME and the variables a test names, so nothing from the developer's shell leaks in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent


def clean_env(tmp_path: Path, variables: dict[str, str], bin_dir: Path = BIN) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "HOME": str(home), **variables}


def run(
    command: list[str | Path], cwd: Path, variables: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own executables
        command,
        cwd=cwd,
        env=clean_env(cwd, variables),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
