"""The API tests use the IT console's token factory (and the shared `world`)."""

from tests.it_console import token_for

__all__ = ["token_for"]
