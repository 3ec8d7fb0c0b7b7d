"""Routing pages: send the signed-in user on, or explain why we cannot."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar
from urllib.parse import urlsplit

import redis
from flask import (
    Blueprint,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response as WerkzeugResponse

from gateway.core import hooks
from gateway.core import metrics as ops_metrics
from gateway.core.db import get_read_session, get_session
from gateway.core.headers import allow_form_targets
from gateway.core.models import User
from gateway.core.models.base import utcnow
from gateway.core.session import (
    SignedInUser,
    current_user,
    has_role,
    require_signed_in_user,
    require_user,
)
from gateway.core.settings import current_settings
from gateway.core.store import Store, get_store
from gateway.core.targets import checked_target, origin
from gateway.core.units import request_locale
from gateway.landing import service as pages
from gateway.landing.forms import choose_system_form
from gateway.landing.handoff import handoff_url
from gateway.routing import counters as metrics
from gateway.routing import service
from gateway.routing.config import RoutingConfig, SystemStatus, current_routing_config
from gateway.routing.decision import RouteDecision
from gateway.routing.errors import SystemNotConfigured, SystemNotOffered
from gateway.routing.service import RouteInputs

log = logging.getLogger(__name__)
bp = Blueprint("landing", __name__)
T = TypeVar("T")

# Targets that mean "wherever routing says", not a page of ours to return to.
ROUTING_PATHS = ("/", "/route")
DEEP_LINK_SESSION_KEY = "routing_deep_link"
# The vendor's own roles, each with a start page of its own; IT's wins over support's.
VENDOR_ROLES = ("it", "support")
PAGE_OF_KIND = {
    "system": "landing.down_notice",
    "choice": "landing.choose",
    "none": "landing.no_entitlements",
    "no_access": "landing.no_access",
    "unavailable": "landing.unavailable",
}


@dataclass(frozen=True)
class DeepLink:
    """An absolute URL inside one license center that the user asked for."""

    url: str
    system: str


@bp.get("/")
@bp.get("/route")
def route() -> ResponseReturnValue:
    """Send the signed-in user where routing says; a sign-in comes back here first."""
    target = checked_target(request.args.get("next"))
    return route_response(require_signed_in_user(), target)


def route_response(user: SignedInUser, target: str | None) -> WerkzeugResponse:
    """Send a (freshly) signed-in user where the routing decision says.

    `target` is an already-validated `next`: a local path, or an URL on our own or
    a configured system's origin (a deep link into that system).
    """
    local_path = _local_path(target)
    if local_path is not None and local_path not in ROUTING_PATHS:
        return redirect(local_path)
    db = get_read_session()  # routing only reads
    config = current_routing_config(db)
    deep_link = _deep_link(target, config.systems) if local_path is None else None
    decision = _summary_decision(db, user, config, deep_link.system if deep_link else None)
    _log_decision(decision, user)
    _count(metrics.count_decision, decision)
    ops_metrics.count_routing_decision(decision.kind, decision.systems)
    session.pop(DEEP_LINK_SESSION_KEY, None)
    if decision.kind in ("none", "no_access"):
        # Vendor staff (IT, support) hold no customer entitlements; their start page is
        # their console, also when they asked for routing's own start page or a license
        # center they cannot open (a page of ours they asked for was sent back above).
        start = next(
            (page for role in VENDOR_ROLES if has_role(role) and (page := hooks.start_page(role))),
            None,
        )
        if start is not None:
            return redirect(start)
    if decision.kind == "system" and not service.unreachable_lines(decision):
        return _hand_off(user, config.systems, decision.systems[0], deep_link)
    if decision.kind in ("system", "choice") and deep_link is not None:
        session[DEEP_LINK_SESSION_KEY] = deep_link.url
    # A "system" decision here leaves some of the user's lines behind on a down system.
    return redirect(url_for(PAGE_OF_KIND[decision.kind]))


@bp.get("/choose")
def choose() -> ResponseReturnValue:
    """The choice between license centers, with what each one holds for the user."""
    user = require_user()
    db = get_session()
    _, decision = _decision(db, user, None, None)
    if decision.kind != "choice":
        return redirect(url_for("landing.route"))
    systems = current_routing_config(db).systems
    names = {key: system.name for key, system in systems.items()}
    today = service.today_utc()
    options = pages.system_options(decision, names, today, request_locale())
    form = choose_system_form((option.key, option.name) for option in options)
    page = make_response(
        render_template(
            "landing/choose.html",
            form=form,
            options=options,
            long_date=pages.long_date,
            today=today,
            details_open=pages.DETAILS_OPEN_ROWS,
        )
    )
    # The answer to this form redirects to the chosen license center.
    targets = (
        origin(systems[option.key].login_start) for option in options if option.key in systems
    )
    return allow_form_targets(page, targets)


@bp.post("/choose")
def choose_post() -> ResponseReturnValue:
    """Go to the chosen system, remembering it when asked; only offered systems count."""
    user = require_user()
    db = get_session()
    _, decision = _decision(db, user, None, None)
    form = choose_system_form((key, key) for key in decision.options)
    if not form.validate_on_submit():
        raise SystemNotOffered(
            "Choose one of the license centers that hold your products.",
            chosen=request.form.get("system", "")[:64],
            user_id=user.id,
        )
    chosen = form.system.data
    _count(metrics.count_choice, chosen)
    if form.remember.data:
        service.remember_choice(db, user, chosen)
    log.info(
        "chosen",
        extra={
            "event": "routing.chosen",
            "system": chosen,
            "user_id": user.id,
            "account_id": user.account_id,
            "remember": bool(form.remember.data),
        },
    )
    systems = current_routing_config(db).systems
    deep_link = _deep_link(session.pop(DEEP_LINK_SESSION_KEY, None), systems)
    return _hand_off(SignedInUser.of(user), systems, chosen, deep_link)


@bp.get("/notice")
def down_notice() -> ResponseReturnValue:
    """Before the hand-off: which of the user's products are unreachable right now."""
    user = require_user()
    db = get_session()
    systems = current_routing_config(db).systems
    inputs, decision = _notice_decision(db, user, systems, session.get(DEEP_LINK_SESSION_KEY))
    unreachable = service.unreachable_entitlements(
        inputs, decision, current_settings(), service.today_utc()
    )
    if decision.kind != "system" or not unreachable:
        return redirect(url_for("landing.route"))
    down = {entry.system for entry in service.unreachable_lines(decision)}
    destination = _configured(systems, decision.systems[0], user.id)
    notice = pages.down_notice(destination, (systems[k] for k in sorted(down)), unreachable)
    page = make_response(render_template("landing/notice.html", notice=notice))
    # The answer to the notice's form redirects to the destination's license center.
    return allow_form_targets(page, [origin(destination.login_start)])


@bp.post("/notice")
def down_notice_continue() -> ResponseReturnValue:
    """Go on to the license center routing chose, knowing what is unreachable."""
    user = require_user()
    db = get_session()
    systems = current_routing_config(db).systems
    deep_link = _deep_link(session.pop(DEEP_LINK_SESSION_KEY, None), systems)
    _, decision = _notice_decision(db, user, systems, deep_link.url if deep_link else None)
    if decision.kind != "system":
        return redirect(url_for("landing.route"))
    return _hand_off(SignedInUser.of(user), systems, decision.systems[0], deep_link)


@bp.post("/forget-choice")
def forget_choice() -> ResponseReturnValue:
    """Forget the signed-in user's remembered license center, then show their page again."""
    user = require_user()
    back = _local_path(checked_target(request.form.get("back"))) or url_for("landing.choose")
    forgotten = service.forget_choice(get_session(), user)
    log.info(
        "choice forgotten",
        extra={
            "event": "routing.choice_forgotten",
            "system": forgotten,
            "user_id": user.id,
            "account_id": user.account_id,
        },
    )
    return redirect(back)


@bp.app_context_processor
def _remembered_choice_banner() -> dict[str, Callable[[], service.RememberedChoice | None]]:
    """Every page may show the signed-in user's remembered choice with a way to forget it."""
    return {"remembered_choice": _remembered_choice}


def _remembered_choice() -> service.RememberedChoice | None:
    if not isinstance(session.get("user_id"), int):
        return None  # anonymous pages read nothing
    try:
        user = current_user()
        return service.remembered_choice_of(get_session(), user) if user else None
    except SQLAlchemyError:
        # The page being shown may be the "database unavailable" one: it must still render.
        log.warning("remembered choice not shown", extra={"event": "routing.banner_skipped"})
        return None


@bp.get("/no-entitlements")
def no_entitlements() -> ResponseReturnValue:
    """Why there is nowhere to go: no active entitlements, and whom to contact."""
    user = require_user()
    inputs, decision = _decision(get_session(), user, None, None)
    if decision.kind != "none":
        return redirect(url_for("landing.route"))
    settings, today = current_settings(), service.today_utc()
    ended = pages.line_groups(
        service.inactive_entitlements(inputs, settings, today), today, request_locale()
    )
    return render_template(
        "landing/no_entitlements.html",
        ended=ended,
        # Salesforce may still cover support for a line whose licences ended ({}: not
        # connected).
        support=hooks.support_eligibility_of(
            user.account.account_number, [line.code for line in ended]
        ),
        support_contact=settings.support_contact,
    )


@bp.get("/no-access")
def no_access() -> ResponseReturnValue:
    """Why the user may not open a license center, and which admins can change that."""
    user = require_user()
    db = get_session()
    _, decision = _decision(db, user, None, None)
    if decision.kind != "no_access":
        return redirect(url_for("landing.route"))
    return render_template(
        "landing/no_access.html",
        account=user.account,
        admins=service.org_admins(db, user.account_id),
        support_contact=current_settings().support_contact,
    )


@bp.get("/unavailable")
def unavailable() -> ResponseReturnValue:
    """The status page: every license center holding the user's products is down."""
    user = require_user()
    db = get_session()
    _, decision = _decision(db, user, None, None)
    if decision.kind != "unavailable":
        return redirect(url_for("landing.route"))
    statuses = current_routing_config(db).systems
    down = [statuses[key] for key in decision.down if key in statuses]
    page = make_response(render_template("landing/unavailable.html", down=down), 503)
    page.headers["Retry-After"] = "300"
    return page


def _count(counter: Callable[[Store, T, datetime], None], value: T) -> None:
    """Count as it happens; a counter outage must never fail a sign-in."""
    try:
        counter(get_store(), value, utcnow())
    except redis.RedisError:
        log.warning("routing counter not written", extra={"event": "metrics.unavailable"})


def _decision(
    db: Session, user: User, deep_link_system: str | None, remembered_system: str | None
) -> tuple[RouteInputs, RouteDecision]:
    inputs = service.load_inputs(db, user, current_routing_config(db))
    decision = service.decide_for(
        inputs,
        current_settings(),
        today=service.today_utc(),
        deep_link_system=deep_link_system,
        remembered_system=remembered_system,
    )
    return inputs, decision


def _notice_decision(
    db: Session, user: User, systems: Mapping[str, SystemStatus], deep_link_url: object
) -> tuple[RouteInputs, RouteDecision]:
    """The decision route_response made, from every entitlement: the remembered choice
    and the deep link kept for the hand-off count, as they did there."""
    deep_link = _deep_link(deep_link_url if isinstance(deep_link_url, str) else None, systems)
    return _decision(db, user, deep_link.system if deep_link else None, user.remembered_system)


def _summary_decision(
    db: Session, user: SignedInUser, config: RoutingConfig, deep_link_system: str | None
) -> RouteDecision:
    """Where to send the user, from the grouped summary of their account's entitlements
    (the sign-in hot path: a few dozen rows, however large the account)."""
    settings, today = current_settings(), service.today_utc()
    inputs = service.load_route_summary(
        db, user, today=today, grace_days=settings.entitlement_grace_days, config=config
    )
    return service.decide_for(
        inputs,
        settings,
        today=today,
        deep_link_system=deep_link_system,
        remembered_system=user.remembered_system,
    )


def _local_path(target: str | None) -> str | None:
    """`target` as a path when it is ours (a path, or an URL on our origin); else None."""
    if target is None:
        return None
    parts = urlsplit(target)
    if not parts.scheme and not parts.netloc:
        return target
    if origin(target) != origin(current_settings().base_url):
        return None
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _deep_link(target: str | None, systems: Mapping[str, SystemStatus]) -> DeepLink | None:
    system = service.system_for_url(systems, target) if target else None
    return DeepLink(target, system) if target and system else None


def _hand_off(
    user: SignedInUser,
    systems: Mapping[str, SystemStatus],
    system_key: str,
    deep_link: DeepLink | None,
) -> WerkzeugResponse:
    system = _configured(systems, system_key, user.id)
    link = deep_link.url if deep_link and deep_link.system == system_key else system.entry_url
    url = handoff_url(
        system.login_start,
        login_hint=user.email,
        target_link_uri=link,
        # `iss` is for an OpenID Connect client's login initiation (OIDC Core §4).
        issuer=current_settings().base_url if system.login_via_client else None,
    )
    ops_metrics.count_handoff(system_key)
    return redirect(url)


def _configured(systems: Mapping[str, SystemStatus], key: str, user_id: int) -> SystemStatus:
    """The system a decision names, or SystemNotConfigured when it has no row here."""
    system = systems.get(key)
    if system is None:
        raise SystemNotConfigured(
            "That license center is not set up here yet. Please contact support.",
            system=key,
            user_id=user_id,
        )
    return system


def _log_decision(decision: RouteDecision, user: SignedInUser) -> None:
    trace = [t.as_dict() for t in decision.trace]
    log.info(
        "routed",
        extra={
            "event": "routing.decision",
            "kind": decision.kind,
            "systems": list(decision.systems),
            "reason": decision.reason,
            "trace": trace,
            "user_id": user.id,
            "account_id": user.account_id,
        },
    )
