"""The WSGI application: `gunicorn -c python:gateway.gunicorn_conf gateway.wsgi:app`.

`app` is built the first time it is asked for (gunicorn's worker does, as it boots), not
when the module is imported: importing it alone, as tools and the architecture test do,
needs no settings and starts nothing."""

from __future__ import annotations

import sys

from flask import Flask

from gateway.app import create_app
from gateway.core.settings import SettingsError

# gunicorn's exit status for a worker that cannot boot: its master then stops at once
# instead of starting a new worker every second.
WORKER_BOOT_ERROR = 3


def create_app_or_exit() -> Flask:
    """The app from GATEWAY_* settings; a bad setting prints one line and exits."""
    try:
        return create_app()
    except SettingsError as error:
        print(f"switchyard: cannot start: {error}", file=sys.stderr, flush=True)
        raise SystemExit(WORKER_BOOT_ERROR) from None


def __getattr__(name: str) -> Flask:
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    app = create_app_or_exit()
    globals()["app"] = app  # built once: later lookups find it without this function
    return app
