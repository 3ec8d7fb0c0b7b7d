"""The API tests use the rollout tests' landscape (lines NET and CAD, four accounts)
and their token factory."""

from tests.rollout.conftest import token_for, world

__all__ = ["token_for", "world"]
