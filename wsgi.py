"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

import sys

from gateway import create_app
from gateway.settings import SettingsError

try:
    app = create_app()
except SettingsError as error:
    # One line naming the variable, not a traceback, and no worker restart loop.
    sys.exit(f"switchyard: cannot start: {error}")
