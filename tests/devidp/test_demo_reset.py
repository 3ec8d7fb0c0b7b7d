"""`gateway demo --reset`, run as a person runs it: the sample data comes back."""

from __future__ import annotations

import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, text

BANNER_END = "Press Ctrl-C to stop."
START_SECONDS = 90.0
LINE = "ANALYTICS"  # legacy in the sample product lines
EMAIL = "alice@acme.example"


def free_port_run() -> int:
    """A port whose next two are free too (the demo takes three in a row)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base < 65_000 and all(_free(base + offset) for offset in range(3)):
            return base
    raise AssertionError("no three consecutive free ports")


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def run_demo(instance: Path, *options: str) -> str:
    """`gateway demo` in its own process until its banner is out, then Ctrl-C."""
    command = [sys.executable, "-c", "from gateway.cli import main; main()", "demo"]
    command += ["--instance", str(instance), "--port", str(free_port_run()), *options]
    # Our own interpreter and arguments only: nothing from outside reaches the command.
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # noqa: S603
    assert process.stdout is not None
    output = b""
    deadline = time.monotonic() + START_SECONDS
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while BANNER_END.encode() not in output and time.monotonic() < deadline:
            if selector.select(timeout=deadline - time.monotonic()):
                chunk = os.read(process.stdout.fileno(), 65536)
                if not chunk:
                    break  # the demo exited
                output += chunk
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    finally:
        process.kill()
        process.stdout.close()
    text_output = output.decode()
    assert BANNER_END in text_output, text_output
    return text_output


def state(instance: Path) -> tuple[str, str | None, int]:
    """The line's state, the user's remembered choice, and the audit log's length."""
    engine = create_engine(f"sqlite:///{instance / 'gateway.db'}")
    try:
        with engine.connect() as connection:
            line_state = connection.scalar(
                text("SELECT state FROM product_lines WHERE code = :code"), {"code": LINE}
            )
            remembered = connection.scalar(
                text("SELECT remembered_system FROM users WHERE email = :email"), {"email": EMAIL}
            )
            audits = connection.scalar(text("SELECT count(*) FROM audit_events"))
    finally:
        engine.dispose()
    return line_state, remembered, audits


def change(instance: Path) -> None:
    """What a demo session leaves behind: IT moved a line, a user remembered a choice."""
    engine = create_engine(f"sqlite:///{instance / 'gateway.db'}")
    with engine.begin() as connection:
        connection.execute(
            text("UPDATE product_lines SET state = 'new' WHERE code = :c"), {"c": LINE}
        )
        connection.execute(
            text("UPDATE users SET remembered_system = 'new' WHERE email = :e"), {"e": EMAIL}
        )
        connection.execute(
            text("INSERT INTO audit_events (at, actor, action, target, reason) VALUES "
                 "(CURRENT_TIMESTAMP, 'it@vendor.example', 'product_line.state', 'x', 'demo')")
        )  # fmt: skip
    engine.dispose()


def test_reset_brings_back_the_sample_and_keeps_the_secret_key(tmp_path: Path) -> None:
    instance = tmp_path / "demo"
    run_demo(instance)
    sample = state(instance)
    assert sample[:2] == ("legacy", None)
    secret_key = (instance / "secret_key").read_text()

    change(instance)
    run_demo(instance)
    changed = state(instance)  # a plain restart keeps the demo's state
    assert changed[:2] == ("new", "new") and changed[2] > sample[2]

    output = run_demo(instance, "--reset")
    assert "starts from the sample data again" in output
    assert state(instance) == sample
    assert (instance / "secret_key").read_text() == secret_key
