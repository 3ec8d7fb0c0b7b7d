"""Liveness and readiness probes for the load balancer and the orchestrator."""

from __future__ import annotations

from typing import Any

import redis
from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gateway.core.db import engine_of
from gateway.core.store import get_store

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Any:
    """The process is alive and serving; says nothing about its dependencies."""
    return jsonify(status="ok")


def dependency_failures() -> dict[str, str]:
    """Each unreachable dependency with the reason; empty when all are fine."""
    failures: dict[str, str] = {}
    try:
        with engine_of(current_app).connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        failures["database"] = type(error).__name__
    try:
        get_store().ping()
    except redis.RedisError as error:
        failures["redis"] = type(error).__name__
    return failures


@bp.get("/readyz")
def readyz() -> Any:
    """Ready when the database and the shared store both answer."""
    failures = dependency_failures()
    if failures:
        return jsonify(status="unavailable", failing=failures), 503
    return jsonify(status="ok")
