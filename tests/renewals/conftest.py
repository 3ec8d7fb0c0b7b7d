"""Fixtures of the renewal reminder tests: a clock far from the sample world's own
dates (its entitlements have ended by then), an SMTP server, and signed-in clients."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from tests.it_console import admin_client, user_client
from tests.mailserver import MailServer

__all__ = ["admin_client", "user_client"]

# The world's entitlements end a year from the real today: long over by this day.
TODAY = date.today() + timedelta(days=1000)


@pytest.fixture
def settings_overrides(smtp_server: MailServer) -> dict[str, object]:
    return {"smtp_url": smtp_server.url}
