#!/bin/sh
# Container start: bring the schema up to date, then hand the process over to gunicorn.
# Any arguments run instead (e.g. `docker compose run gateway gateway import users users.csv`).
set -eu
if [ "$#" -gt 0 ]; then
  exec "$@"
fi
gateway db upgrade
exec gunicorn -c python:gateway.gunicorn_conf gateway.wsgi:app
