"""Refused migration changes beyond the shared ones (gateway.core.errors: InvalidChange,
NotFound, ConflictingChange): each maps to one console page or one problem+json response."""

from __future__ import annotations

from gateway.core.errors import ChangeRefused


class BackToLegacyUnconfirmed(ChangeRefused):
    """The change sends accounts from new back to legacy and that was not confirmed."""

    status = 409
    title = "Confirm sending accounts back to legacy"
    event = "rollout.back_to_legacy_unconfirmed"

    def __init__(
        self, detail: str, *, accounts: int, users: int, account_numbers: tuple[str, ...]
    ) -> None:
        super().__init__(detail, accounts=accounts, users=users)
        self.accounts, self.users, self.account_numbers = accounts, users, account_numbers
