"""Refused support lookups and actions (who is affected, forgetting a remembered choice).
Same statuses, titles and log events as the migration's."""

from __future__ import annotations

from gateway.core.errors import GatewayError


class InsightsError(GatewayError):
    status = 400
    title = "That change was not made"
    event = "rollout.refused"


class InvalidChange(InsightsError):
    status = 422
    event = "rollout.invalid"


class NotFound(InsightsError):
    status = 404
    title = "Not found"
    event = "rollout.not_found"
