"""Run our commands as real processes with a clean environment: only PATH, a private
HOME and the variables a test names, so nothing from the developer's shell leaks in."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
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


class Server:
    """A server process whose stderr a thread reads, so the test learns the address
    gunicorn bound (PORT=0) from its own "Listening at" line, with no polling."""

    LISTENING = re.compile(r"Listening at: (http://[0-9.]+:[0-9]+)")

    def __init__(self, command: list[str | Path], cwd: Path, env: dict[str, str]) -> None:
        self.lines: list[str] = []
        self.url: str | None = None
        self._ready = threading.Event()
        self._stdout = (cwd / "server.out").open("w")
        self.process = subprocess.Popen(  # noqa: S603 - our own executables
            command, cwd=cwd, env=env, stdout=self._stdout, stderr=subprocess.PIPE, text=True
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            found = self.LISTENING.search(line)
            if found and self.url is None:
                self.url = found.group(1)
                self._ready.set()
        self._ready.set()  # the process ended without listening

    def wait_listening(self, timeout: float) -> str:
        """The base URL, once gunicorn listens; fails with its output otherwise."""
        assert self._ready.wait(timeout), "".join(self.lines)
        assert self.url is not None, "".join(self.lines)
        return self.url

    def stop(self) -> int:
        """SIGTERM, then its exit status once it has shut down."""
        self.process.send_signal(signal.SIGTERM)
        status = self.process.wait(timeout=60)
        self._reader.join(timeout=10)
        assert self.process.stderr is not None
        self.process.stderr.close()
        self._stdout.close()
        return status
