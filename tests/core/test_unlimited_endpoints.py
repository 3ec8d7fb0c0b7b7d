"""flask-limiter is skipped for endpoints that declare no rate limit (it would work out
their limits on every request): every endpoint that checks a credential keeps its limit."""

from __future__ import annotations

from flask import Flask, request

from gateway.core.extensions import _declares_no_limit

# Each with its own @limiter.limit (sign-in, the token endpoint) or its blueprint's
# shared budget of failed bearer tokens (the JSON APIs and SCIM).
LIMITED = {
    "sso.login", "sso.saml_login", "sso.oidc_login", "sso.oidc_callback", "sso.acs",
    "provider.token",
}  # fmt: skip
LIMITED_BLUEPRINTS = {"systems_api", "scim", "organisation_api", "support_api",
                      "migration_api", "insights_api"}  # fmt: skip


def skipped(app: Flask, endpoint: str) -> bool:
    rule = next(rule for rule in app.url_map.iter_rules() if rule.endpoint == endpoint)
    with app.test_request_context(rule.rule.replace("<", "").replace(">", "")):
        request.url_rule = rule  # the rule's own endpoint, whatever its converters
        return _declares_no_limit()


def test_every_endpoint_with_a_limit_keeps_it(app: Flask) -> None:
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    blueprints = {endpoint.rpartition(".")[0] for endpoint in endpoints}
    assert endpoints >= LIMITED
    assert blueprints >= LIMITED_BLUEPRINTS, "a blueprint was renamed: update the list"
    for endpoint in sorted(endpoints):
        limited = endpoint in LIMITED or endpoint.rpartition(".")[0] in LIMITED_BLUEPRINTS
        assert skipped(app, endpoint) is not limited, endpoint


def test_routing_is_skipped(app: Flask) -> None:
    assert skipped(app, "landing.route")
    assert app.extensions["unlimited_endpoints"]["landing.route"] is True
