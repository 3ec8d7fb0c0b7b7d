"""The shared core: what every capability builds on, importing none of them.

Settings, the database and the shared store, the models, errors, the signed-in session,
safe redirect targets, the audit trail, change announcement, background jobs, access to
the JSON API, and the hooks through which capabilities react to each other.
"""
