"""Refused system changes (maintenance switches): each maps to one console page or one
problem+json response. Same statuses, titles and log events as the migration's."""

from __future__ import annotations

from gateway.core.errors import GatewayError


class SystemsError(GatewayError):
    status = 400
    title = "That change was not made"
    event = "rollout.refused"


class InvalidChange(SystemsError):
    status = 422
    event = "rollout.invalid"


class NotFound(SystemsError):
    status = 404
    title = "Not found"
    event = "rollout.not_found"


class ConflictingChange(SystemsError):
    """The system's maintenance mode changed since the preview."""

    status = 409
    title = "Something changed in the meantime"
    event = "rollout.conflict"
