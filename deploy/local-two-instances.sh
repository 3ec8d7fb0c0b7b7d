#!/usr/bin/env bash
# Two gateway instances (gunicorn on two ports) behind Debian's nginx on this machine,
# sharing one PostgreSQL database and one Redis database:
#
#   GATEWAY_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \
#   GATEWAY_REDIS_URL=redis://127.0.0.1:6379/9 GATEWAY_SAML_DIR=idp_config \
#   GATEWAY_SECRET_KEY=... deploy/local-two-instances.sh [PORT_A PORT_B NGINX_PORT]
#
# The public URL is nginx's (http://127.0.0.1:NGINX_PORT, default 8080). Installs nginx
# with apt-get when it is missing and we are root. Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
port_a=${1:-8001}
port_b=${2:-8002}
public_port=${3:-8080}
: "${GATEWAY_DATABASE_URL:?set GATEWAY_DATABASE_URL (PostgreSQL, shared)}"
: "${GATEWAY_REDIS_URL:?set GATEWAY_REDIS_URL (Redis, shared)}"
: "${GATEWAY_SECRET_KEY:?set GATEWAY_SECRET_KEY (the same on every instance)}"
export GATEWAY_BASE_URL=${GATEWAY_BASE_URL:-http://127.0.0.1:$public_port}
export GATEWAY_TRUSTED_PROXIES=1 GATEWAY_BIND_HOST=127.0.0.1

if ! command -v nginx >/dev/null 2>&1 && [[ $(id -u) == 0 ]]; then
  echo "installing Debian's nginx with apt-get" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
fi
nginx=$(command -v nginx || echo /usr/sbin/nginx)

gateway db upgrade   # once, as a release step, not from every instance
conf=$(mktemp -d)/nginx.conf
sed -e "s/server gateway:8000 max_fails=0;/server 127.0.0.1:$port_a max_fails=0;\n        server 127.0.0.1:$port_b max_fails=0;/" \
    -e "s/listen 8080;/listen 127.0.0.1:$public_port;/" deploy/nginx.conf > "$conf"

pids=()
stop() { kill "${pids[@]}" 2>/dev/null || true; wait; }
trap stop EXIT INT TERM
PORT=$port_a gunicorn -c gunicorn.conf.py wsgi:app & pids+=($!)
PORT=$port_b gunicorn -c gunicorn.conf.py wsgi:app & pids+=($!)
"$nginx" -c "$conf" -g 'daemon off;' & pids+=($!)
echo "gateway at $GATEWAY_BASE_URL (instances on $port_a and $port_b)" >&2
wait
