"""The development IdP's pages: pick a sample user, then post a signed response to our ACS."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, make_response, render_template, request

from gateway.core.headers import allow_form_targets
from gateway.core.settings import current_settings
from gateway.devidp.idp import DemoConfig, parse_authn_request, signed_response
from gateway.devidp.mailbox import links_in
from gateway.devidp.saml_response import encode
from gateway.sso.config import current_saml

bp = Blueprint("devidp", __name__, url_prefix="/dev-idp", template_folder="templates")


def _demo() -> DemoConfig:
    demo: DemoConfig = current_app.extensions["devidp"]
    return demo


@bp.get("/sso")
def sso_page() -> Any:
    """The portal's sign-in page: choose whom to be."""
    encoded = request.args.get("SAMLRequest", "")
    parse_authn_request(encoded, current_saml().endpoints.acs_url)
    return render_template(
        "devidp/sso.html",
        users=_demo().users,
        organisations=_demo().organisations(),
        saml_request=encoded,
        relay_state=request.args.get("RelayState"),
    )


@bp.post("/sso")
def sso_answer() -> Any:
    """Sign in as the chosen sample user: an auto-submitting form carries the response."""
    config, demo = current_saml(), _demo()
    authn = parse_authn_request(request.form.get("SAMLRequest", ""), config.endpoints.acs_url)
    if "newcomer_email" in request.form:
        user = demo.newcomer(
            request.form.get("newcomer_email", ""), request.form.get("newcomer_account", "")
        )
    else:
        user = demo.user(request.form.get("email", ""))
    settings = current_settings()
    xml = signed_response(
        user,
        authn,
        key=demo.signing_key,
        idp_entity_id=config.idp_entity_id,
        endpoints=config.endpoints,
        attribute_map=settings.saml_attribute_map,
    )
    page = render_template(
        "devidp/post.html",
        acs_url=authn.acs_url,
        saml_response=encode(xml),
        relay_state=request.form.get("RelayState"),
        user=user,
    )
    # The ACS that this page posts to redirects to a license center on another origin.
    return allow_form_targets(make_response(page), demo.system_origins)


@bp.get("/slo")
def slo_page() -> Any:
    """The portal's sign-out: nothing to undo here but the story."""
    return render_template("devidp/slo.html")


@bp.get("/mail")
def mailbox() -> Any:
    """The demo's mailbox: what the gateway sent, newest first, links clickable."""
    box = _demo().mailbox
    return render_template(
        "devidp/mail.html",
        messages=box.messages() if box is not None else [],
        configured=box is not None,
        links_in=links_in,
    )
