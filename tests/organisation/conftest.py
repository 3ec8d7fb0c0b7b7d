"""Console fixtures (tests/it_console.py) for the organisation tests."""

from tests.it_console import admin_client, it_client, token_for, user_client

__all__ = ["admin_client", "it_client", "token_for", "user_client"]
