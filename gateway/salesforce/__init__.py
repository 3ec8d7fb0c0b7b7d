"""The Salesforce sync: Account, Asset and Entitlement records from the vendor's order
management and support system, with `gateway sync salesforce` and `gateway sync runs`
(docs/salesforce.md)."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Nothing to mount yet: the sync runs from the command line. (The IT console page
    and the scheduled job come with the next increment.)"""
