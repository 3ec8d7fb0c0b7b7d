"""The SAML fixtures (a known account, an app accepting IdP-initiated sign-ins)."""

from tests.sso.conftest import account, app_idp_initiated

__all__ = ["account", "app_idp_initiated"]
