"""The organisation console: /org/ for a customer's org admins (their own organisation,
taken from their session, never from the URL or a form) and /org/accounts/<number>/ for
the vendor's support (any organisation, read-only, every view audited).

An admin asking for another organisation's anything gets 404, as if it did not exist;
a signed-in user who is neither gets 403."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import or_, select

from gateway.core import api_tokens, hooks
from gateway.core.audit import Actor
from gateway.core.console import fallback_back, log_refusal
from gateway.core.csv_export import csv_text
from gateway.core.db import get_session, one_transaction
from gateway.core.errors import ChangeRefused, InvalidChange, render_error
from gateway.core.mail import mail_configured
from gateway.core.models import Account
from gateway.core.models.api_token import ACCOUNT_SCOPES
from gateway.core.models.base import utcnow
from gateway.core.secret_keys import secret_keys
from gateway.core.session import (
    SignedInUser,
    current_signed_in_user,
    has_role,
    require_signed_in_user,
)
from gateway.core.settings import PERMISSIONS, current_settings
from gateway.organisation import invitations, service
from gateway.organisation.errors import NotOrgAdmin

log = logging.getLogger(__name__)
bp = Blueprint("org", __name__, url_prefix="/org")

# What each permission lets a person do, as the console explains it.
PERMISSION_HELP = {
    "portal": "the community portal",
    "licensing": "licenses in the license centers",
    "downloads": "software downloads",
    "admin": "this page: managing the organisation's people",
}
AUDIT_CSV_LIMIT = 100_000


@dataclass(frozen=True)
class OrgScope:
    """Whose organisation this request is about, and as whom."""

    account: Account
    viewer: SignedInUser
    # "admin": the organisation's own admin; "support": the vendor, read-only.
    mode: str

    @property
    def read_only(self) -> bool:
        return self.mode == "support"

    def url(self, endpoint: str, **values: Any) -> str:
        """A URL of this console for this organisation (support's carry the account)."""
        if self.mode == "support":
            values["account_number"] = self.account.account_number
        return url_for(endpoint, **values)

    def actor(self) -> Actor:
        who = self.viewer.email if self.mode == "admin" else f"support:{self.viewer.email}"
        return Actor(who, g.get("request_id"), via="console")


def org_scope(account_number: str | None) -> OrgScope:
    """The organisation of this request: the admin's own (account_number None) or, for
    vendor support, the one in the URL. Anyone else asking for an account: 404."""
    viewer = require_signed_in_user()
    db = get_session()
    if account_number is None:
        if "admin" not in viewer.permission_names:
            raise NotOrgAdmin(
                "Only your organisation's administrators can manage its people.",
                user_id=viewer.id,
            )
        account = db.get(Account, viewer.account_id)
        assert account is not None
        scope = OrgScope(account, viewer, "admin")
    else:
        if not has_role("support"):
            abort(404)
        scope = OrgScope(service.account_by_number(db, account_number), viewer, "support")
    g.org_scope = scope
    # The fast read of the signed-in user ran outside a transaction; what this request
    # writes next must commit or roll back as one.
    one_transaction(db)
    return scope


def for_admin_and_support(view: Callable[..., ResponseReturnValue]) -> Callable[..., Any]:
    """Mount `view` at /org/… (the admin's own organisation) and at
    /org/accounts/<account_number>/… (support), with the resolved scope as first argument."""

    def wrapped(account_number: str | None = None, **kwargs: Any) -> ResponseReturnValue:
        scope = org_scope(account_number)
        if request.method == "GET" and scope.read_only:
            service.record_support_view(
                get_session(), scope.actor(), scope.account, request.path, now=utcnow()
            )
        return view(scope, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


def route(rule: str, **options: Any) -> Callable[[Callable[..., ResponseReturnValue]], Any]:
    def register(view: Callable[..., ResponseReturnValue]) -> Any:
        wrapped = for_admin_and_support(view)
        bp.add_url_rule(rule, view_func=wrapped, **options)
        bp.add_url_rule(
            "/accounts/<account_number>" + rule,
            endpoint=view.__name__,
            view_func=wrapped,
            **options,
        )
        return wrapped

    return register


def _require_admin(scope: OrgScope) -> None:
    if scope.read_only:
        raise NotOrgAdmin(
            "Vendor support can look at an organisation but not change its people.",
            user_id=scope.viewer.id,
        )


def _page_number() -> int:
    value = request.args.get("page", "1")
    return int(value) if value.isdigit() and 0 < int(value) < 100_000 else 1


@route("/", methods=["GET"])
def users(scope: OrgScope) -> ResponseReturnValue:
    """The organisation's people: paged, searchable by name or email."""
    search = request.args.get("q", "")
    status = request.args.get("status", "")
    listing = service.list_users(
        get_session(),
        scope.account.id,
        search=search,
        status=status if status in ("active", "disabled") else None,
        page=_page_number(),
    )
    return render_template(
        "organisation/users.html",
        scope=scope,
        listing=listing,
        search=search,
        status=status,
        permissions=PERMISSIONS,
    )


@route("/users/<public_id>", methods=["GET"])
def user(scope: OrgScope, public_id: str) -> ResponseReturnValue:
    """One person: permissions, status, how they were added, what changed."""
    db = get_session()
    person = service.get_user(db, scope.account.id, public_id)
    history = service.audit_page(
        db, scope.account.id, service.AuditFilter(target=f"user:{person.public_id}"), per_page=20
    )
    return render_template(
        "organisation/user.html",
        scope=scope,
        person=person,
        history=history,
        permissions=PERMISSIONS,
        permission_help=PERMISSION_HELP,
    )


@route("/users/<public_id>/permissions", methods=["POST"])
def set_permissions(scope: OrgScope, public_id: str) -> ResponseReturnValue:
    """Grant and revoke: the checked permissions are the person's from now on."""
    _require_admin(scope)
    db = get_session()
    person = service.get_user(db, scope.account.id, public_id)
    wanted = service.checked_permissions(request.form.getlist("permission"))
    service.change_user(
        db, scope.actor(), person, service.UserChange(permissions=wanted), now=utcnow()
    )
    flash(f"Permissions of {person.display_name} saved.", "info")
    return redirect(scope.url("org.user", public_id=public_id))


@route("/users/<public_id>/status", methods=["POST"])
def set_status(scope: OrgScope, public_id: str) -> ResponseReturnValue:
    """Deactivate (their sessions and tokens end everywhere) or reactivate."""
    _require_admin(scope)
    active = request.form.get("active")
    if active not in ("yes", "no"):
        raise InvalidChange("active: yes or no")
    db = get_session()
    person = service.get_user(db, scope.account.id, public_id)
    service.change_user(
        db, scope.actor(), person, service.UserChange(active=active == "yes"), now=utcnow()
    )
    flash(
        f"{person.display_name} is {'active again' if active == 'yes' else 'deactivated'}.",
        "info",
    )
    return redirect(scope.url("org.user", public_id=public_id))


@route("/users/<public_id>/forget-choice", methods=["POST"])
def forget_choice(scope: OrgScope, public_id: str) -> ResponseReturnValue:
    """Forget the person's remembered license center (admins, and support)."""
    db = get_session()
    person = service.get_user(db, scope.account.id, public_id)
    service.clear_remembered_choice(db, scope.actor(), person, now=utcnow())
    flash(f"{person.display_name} is routed afresh at their next sign-in.", "info")
    return redirect(scope.url("org.user", public_id=public_id))


def _audit_filter() -> service.AuditFilter:
    args = request.args
    return service.AuditFilter(
        action=args.get("action", "").strip()[:64],
        actor=args.get("actor", "").strip()[:320],
        target=args.get("target", "").strip()[:255],
        since=_day(args.get("since")),
        until=_day(args.get("until"), end=True),
    )


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    """A YYYY-MM-DD filter as a UTC instant (the day's start; `end`: the next day's)."""
    try:
        day = datetime.strptime((value or "").strip(), "%Y-%m-%d").date()
    except ValueError:
        return None
    start = datetime.combine(day, time(), tzinfo=UTC)
    return start + timedelta(days=1) if end else start


@route("/audit", methods=["GET"])
def audit(scope: OrgScope) -> ResponseReturnValue:
    """The organisation's own audit log, filtered, newest first."""
    wanted = _audit_filter()
    events = service.audit_page(get_session(), scope.account.id, wanted, page=_page_number())
    return render_template(
        "organisation/audit.html", scope=scope, events=events, wanted=wanted, args=request.args
    )


@route("/audit.csv", methods=["GET"])
def audit_csv(scope: OrgScope) -> ResponseReturnValue:
    """The filtered log as CSV, for the organisation's own records."""
    rows = get_session().scalars(
        service.audit_query(scope.account.id, _audit_filter()).limit(AUDIT_CSV_LIMIT)
    )
    body = csv_text(
        ["at", "actor", "via", "action", "target", "before", "after", "request_id"],
        (
            [
                event.at.isoformat(),
                event.actor,
                event.via,
                event.action,
                event.target,
                _json(event.before),
                _json(event.after),
                event.request_id or "",
            ]
            for event in rows
        ),
    )
    name = f"switchyard-audit-{scope.account.account_number}.csv"
    return Response(
        body, mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


def _json(value: object) -> str:
    return "" if value is None else json.dumps(value, sort_keys=True)


@bp.get("/accounts/")
def support_search() -> ResponseReturnValue:
    """Support's way in: find an organisation by number or name."""
    user = require_signed_in_user()
    if not has_role("support"):
        abort(404)
    text = request.args.get("q", "").strip()[:100]
    found: list[Account] = []
    if text:
        pattern = service.like_pattern(text)
        found = list(
            get_session().scalars(
                select(Account)
                .where(
                    or_(
                        Account.account_number == text,
                        Account.name.ilike(pattern, escape="\\"),
                    )
                )
                .order_by(Account.name)
                .limit(50)
            )
        )
    log.info(
        "support searched organisations", extra={"event": "support.search", "user_id": user.id}
    )
    return render_template("organisation/support_search.html", query=text, found=found)


@route("/invitations", methods=["GET"])
def invitations_page(scope: OrgScope) -> ResponseReturnValue:
    """Invitations with their state, and the form for a new one."""
    settings = current_settings()
    return render_template(
        "organisation/invitation_list.html",
        scope=scope,
        invitations=invitations.list_invitations(
            get_session(), scope.account.id, now=utcnow(), page=_page_number()
        ),
        permissions=PERMISSIONS,
        mail_configured=mail_configured(settings),
        days=settings.invitation_days,
    )


@route("/invitations", methods=["POST"])
def invite(scope: OrgScope) -> ResponseReturnValue:
    _require_admin(scope)
    created = invitations.invite(
        get_session(),
        scope.actor(),
        scope.account,
        email=request.form.get("email", ""),
        permissions=request.form.getlist("permissions"),
        now=utcnow(),
    )
    flash(f"Invitation sent to {created.invitation.email}.", "info")
    return redirect(scope.url("org.invitations_page"))


@route("/invitations/<int:invitation_id>/resend", methods=["POST"])
def resend_invitation(scope: OrgScope, invitation_id: int) -> ResponseReturnValue:
    """A new link (the old one stops working) and a new expiry; support may do this too."""
    sent = invitations.resend(
        get_session(), scope.actor(), scope.account.id, invitation_id, now=utcnow()
    )
    flash(
        f"Invitation sent again to {sent.invitation.email}; the old link no longer works.", "info"
    )
    return redirect(scope.url("org.invitations_page"))


@route("/invitations/<int:invitation_id>/revoke", methods=["POST"])
def revoke_invitation(scope: OrgScope, invitation_id: int) -> ResponseReturnValue:
    _require_admin(scope)
    revoked = invitations.revoke(
        get_session(), scope.actor(), scope.account.id, invitation_id, now=utcnow()
    )
    flash(f"Invitation for {revoked.email} revoked.", "info")
    return redirect(scope.url("org.invitations_page"))


@route("/tokens", methods=["GET"])
def tokens(scope: OrgScope) -> ResponseReturnValue:
    """The organisation's API and SCIM tokens (never their secrets), and a form for one."""
    return render_template(
        "organisation/tokens.html",
        scope=scope,
        tokens=api_tokens.list_account_tokens(get_session(), scope.account.id),
        state=api_tokens.token_state,
        now=utcnow(),
        scopes=ACCOUNT_SCOPES,
        secret=None,
    )


@route("/tokens", methods=["POST"])
def create_token(scope: OrgScope) -> ResponseReturnValue:
    """A new token for this organisation: its secret is on this one page, once."""
    _require_admin(scope)
    db, now, form = get_session(), utcnow(), request.form
    days = form.get("days", "")
    if not days.isdigit():
        raise InvalidChange("Expires in: a number of days.")
    created = api_tokens.create_account_token(
        db,
        scope.account.account_number,
        form.get("scope", ""),
        actor=scope.actor(),
        now=now,
        hash_key=secret_keys().api_token,
        expires_at=now + timedelta(days=int(days)),
        name=form.get("name", "").strip() or None,
    )
    page = render_template(
        "organisation/tokens.html",
        scope=scope,
        tokens=api_tokens.list_account_tokens(db, scope.account.id),
        state=api_tokens.token_state,
        now=now,
        scopes=ACCOUNT_SCOPES,
        secret=created,
    )
    # The secret must not linger in a cache or in the browser's history.
    return Response(page, headers={"Cache-Control": "no-store"})


@route("/tokens/revoke", methods=["POST"])
def revoke_token(scope: OrgScope) -> ResponseReturnValue:
    """Revoke one of the organisation's tokens at once."""
    _require_admin(scope)
    name = request.form.get("name", "")
    api_tokens.revoke_account_token(
        get_session(), scope.account.id, name, actor=scope.actor(), now=utcnow()
    )
    flash(f"Token {name} revoked: it works nowhere from now on.", "info")
    return redirect(scope.url("org.tokens"))


def _refused(error: ChangeRefused) -> ResponseReturnValue:
    """A refused GET is an error page; a refused POST goes back to its page, saying why,
    with nothing saved. Another organisation's object is a 404 page either way."""
    log_refusal(error)
    get_session().rollback()
    if request.method == "GET" or error.status == 404:
        return render_error(error.status, error.title, error.detail)  # type: ignore[no-any-return]
    flash(error.detail, "error")
    scope: OrgScope | None = g.get("org_scope")
    return redirect(fallback_back(scope.url("org.users") if scope else url_for("org.users")))


def _console_link() -> dict[str, Callable[[], str | None]]:
    def link() -> str | None:
        """Where "Your organisation" points for the signed-in user, if anywhere."""
        if has_role("support"):
            return url_for("org.support_search")
        user = current_signed_in_user()
        return url_for("org.users") if user and "admin" in user.permission_names else None

    return {"organisation_link": link}


bp.register_error_handler(ChangeRefused, _refused)
bp.app_context_processor(_console_link)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    hooks.set_start_page(app, "support", "org.support_search")
