# Switchyard gateway: gunicorn serving gateway.wsgi:app as a non-root user.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml ./
COPY gateway ./gateway
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=8000 \
    GATEWAY_SAML_DIR=/app/idp_config
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin gateway
WORKDIR /app
COPY --from=build /opt/venv /opt/venv
# The default SQLite file (without GATEWAY_DATABASE_URL) lives in the user's data folder.
RUN mkdir -p /app/.local/share/switchyard && chown -R gateway:gateway /app/.local
COPY idp_config ./idp_config
COPY scripts/docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
USER gateway
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
ENTRYPOINT ["docker-entrypoint.sh"]
