"""WSGI entry point kept for `gunicorn wsgi:app` from a checkout; the installed one is
gateway.wsgi (see README, Running in production)."""

from gateway.wsgi import app

__all__ = ["app"]
