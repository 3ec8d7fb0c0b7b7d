"""What can stop a Salesforce sync run; each is recorded in the run and printed in one line."""

from __future__ import annotations

from gateway.core.errors import GatewayError


class SalesforceSyncError(GatewayError):
    """A run that did not finish: nothing it read after its last commit was applied."""

    status = 502
    title = "Salesforce sync failed"
    event = "salesforce.sync_failed"


class SalesforceNotConfigured(SalesforceSyncError):
    """The settings name no Salesforce org, or no way to sign in to it."""

    status = 409


class SalesforceUnavailable(SalesforceSyncError):
    """Salesforce kept failing (limits, 5xx, dropped connections, timeouts) after every retry."""


class SalesforceRefused(SalesforceSyncError):
    """Salesforce refused what we asked, and asking again would not help: a bad field name
    in the settings, a rejected sign-in, a failed bulk job, a session that expired again
    right after re-authenticating."""


class QueryLocatorExpired(SalesforceSyncError):
    """A nextRecordsUrl that Salesforce no longer knows (INVALID_QUERY_LOCATOR)."""
