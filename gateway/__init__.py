"""Switchyard: the SSO routing gateway and identity service."""

from gateway.app import create_app

__all__ = ["create_app"]
