"""Refused migration changes (product lines, schedules): each maps to one console page
or one problem+json response."""

from __future__ import annotations

from gateway.core.errors import GatewayError


class RolloutError(GatewayError):
    status = 400
    title = "That change was not made"
    event = "rollout.refused"


class InvalidChange(RolloutError):
    status = 422
    event = "rollout.invalid"


class NotFound(RolloutError):
    status = 404
    title = "Not found"
    event = "rollout.not_found"


class ConflictingChange(RolloutError):
    """The line changed since the preview, or a scheduled change is no longer pending."""

    status = 409
    title = "Something changed in the meantime"
    event = "rollout.conflict"


class BackToLegacyUnconfirmed(RolloutError):
    """The change sends accounts from new back to legacy and that was not confirmed."""

    status = 409
    title = "Confirm sending accounts back to legacy"
    event = "rollout.back_to_legacy_unconfirmed"

    def __init__(
        self, detail: str, *, accounts: int, users: int, account_numbers: tuple[str, ...]
    ) -> None:
        super().__init__(detail, accounts=accounts, users=users)
        self.accounts, self.users, self.account_numbers = accounts, users, account_numbers
