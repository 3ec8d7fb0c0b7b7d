"""gunicorn settings kept for `gunicorn -c gunicorn.conf.py wsgi:app` from a checkout;
the installed ones are gateway.gunicorn_conf (see README, Running in production)."""

from gateway.gunicorn_conf import *  # noqa: F403
