"""The tests' Salesforce is the demo's stand-in (gateway/devidp/salesforce.py)."""

from gateway.devidp.salesforce import PAGE_SIZE, Faults, SalesforceStandIn

__all__ = ["PAGE_SIZE", "Faults", "SalesforceStandIn"]
