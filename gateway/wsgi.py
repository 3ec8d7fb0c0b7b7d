"""The WSGI application: `gunicorn -c python:gateway.gunicorn_conf gateway.wsgi:app`."""

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


app = create_app_or_exit()
