"""What IT's commands share: the --actor and --reason options and the audit actor they
name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from gateway.core.audit import Actor

F = TypeVar("F", bound=Callable[..., Any])


def command_actor(name: str) -> Actor:
    """The audit log's actor for a command run by `name` (no request id)."""
    return Actor(name)


def actor_option(command: F) -> F:
    return click.option(
        "--actor", default="cli", show_default=True, help="Who the audit log names."
    )(command)


def reason_option(command: F) -> F:
    return click.option("--reason", required=True, help="Why; recorded in the audit log.")(command)
