"""The API tests use the rollout tests' token factory (and the shared `world`)."""

from tests.rollout.conftest import token_for

__all__ = ["token_for"]
