"""Security headers on every response."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Flask, Response, current_app

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action {form_action}"
)


def content_security_policy(form_targets: Iterable[str] = ()) -> str:
    """The policy, with `form_targets` (origins) allowed as form destinations.

    Browsers apply form-action to the redirects that follow a POST too, so a form
    whose answer redirects to another origin (sign-out to the IdP, the choice page
    to a license center) needs that origin listed.
    """
    origins = " ".join(sorted(set(form_targets)))
    return CONTENT_SECURITY_POLICY.format(form_action=f"'self' {origins}".strip())


def allow_form_targets(response: Response, origins: Iterable[str]) -> Response:
    """Widen form-action on this one response to the given origins as well."""
    static = current_app.extensions.get("csp_form_targets", ())
    response.headers["Content-Security-Policy"] = content_security_policy([*static, *origins])
    return response


def init_app(app: Flask, *, https: bool, form_targets: Iterable[str] = ()) -> None:
    """Add the headers to every response; `form_targets` are origins every page may
    post to through a redirect (the IdP's sign-out)."""
    app.extensions["csp_form_targets"] = tuple(form_targets)
    policy = content_security_policy(form_targets)

    defaults = [
        ("Content-Security-Policy", policy),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        # same-origin: Flask-WTF checks the Referer of https form posts, and no other
        # site learns our URLs (which may carry deep-link targets).
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
        ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
        ("Cache-Control", "no-store"),
    ]
    if https:
        defaults.append(("Strict-Transport-Security", "max-age=63072000; includeSubDomains"))
    lowered = [(name.lower(), name, value) for name, value in defaults]

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # A view may set its own (a wider form-action, a cacheable page); the rest are
        # added. One pass over the response's headers, not one per default.
        present = {name.lower() for name, _ in response.headers.items()}
        response.headers.extend(
            [(name, value) for key, name, value in lowered if key not in present]
        )
        return response
