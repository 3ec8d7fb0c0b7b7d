"""The entitlement directory: accounts, users, permissions, product lines, entitlements."""
