"""Hooks: how capabilities react to each other without importing each other.

- after sign-in: where a freshly signed-in user goes (the landing pages register the
  routing decision; sign-in itself knows nothing of routing);
- on sign-out: who must hear that a session ends (the identity service tells the
  license centers), called while the session can still be read;
- a start page per role: where someone with that role begins when routing has nowhere
  to send them (IT staff start in the console);
- access ended: a user was deactivated (or signed out everywhere by an operator), so
  whoever holds something of theirs lets go (their sessions on every instance, their
  tokens, their license-center sessions);
- dashboard panels: a section a capability adds to IT's dashboard (a template and a
  function giving its variables), so the dashboard shows it without importing it;
- support eligibility: whether Salesforce covers an account's product lines today (the
  Salesforce capability provides it when Salesforce is connected; the customer's pages
  show it);
- machine clients' account allow-lists: whether an OAuth client may read an account
  (the OIDC provider owns its clients; other capabilities' machine routes ask);
- Salesforce agreement: which accounts' entitlements of a line in the new system agree
  with Salesforce (the Salesforce capability compares; routing's readiness gate asks on
  lines that require it).

Register in `init_app`; call from a request.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from flask import Flask, current_app, redirect, url_for
from werkzeug.wrappers import Response

from gateway.core.session import SignedInUser

SignedInHandler = Callable[[SignedInUser, "str | None"], Response]
SignOutHandler = Callable[[MutableMapping[str, Any]], object]
# handler(user_id): called after the change that ended the user's access is committed.
AccessEndedHandler = Callable[[int], object]
# context(): the variables of a dashboard panel's template, read at each page view.
PanelContext = Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class SupportCoverage:
    """Whether support covers one product line today, and why (for people)."""

    covered: bool
    reason: str
    until: date | None = None

    @property
    def text(self) -> str:
        if self.covered:
            return f"Support: {self.reason}"
        return f"Support: not covered \N{EM DASH} {self.reason}"


# provider(account_number, line codes) -> line code → coverage.
SupportEligibilityProvider = Callable[[str, list[str]], dict[str, SupportCoverage]]
# check(db session, client_id, account id) -> whether that client may read that account.
ClientAccountCheck = Callable[[Any, str, int], bool]
# check(db session, line code, account number or None) -> the account numbers whose
# entitlements of that line in the new system agree with Salesforce: of that one
# account, or of every account when None.
AgreementCheck = Callable[[Any, str, "str | None"], frozenset[str]]


@dataclass
class Hooks:
    signed_in: list[SignedInHandler] = field(default_factory=list)
    signing_out: list[SignOutHandler] = field(default_factory=list)
    start_pages: dict[str, str] = field(default_factory=dict)  # role → endpoint
    access_ended: list[AccessEndedHandler] = field(default_factory=list)
    dashboard_panels: list[tuple[str, PanelContext]] = field(default_factory=list)
    support_eligibility: SupportEligibilityProvider | None = None
    client_account_check: ClientAccountCheck | None = None
    agreement_check: AgreementCheck | None = None


def hooks_of(app: Flask) -> Hooks:
    hooks: Hooks = app.extensions.setdefault("hooks", Hooks())
    return hooks


def after_sign_in(app: Flask, handler: SignedInHandler) -> None:
    """`handler(user, target)` answers a completed sign-in; the first registered wins."""
    hooks_of(app).signed_in.append(handler)


def on_sign_out(app: Flask, handler: SignOutHandler) -> None:
    hooks_of(app).signing_out.append(handler)


def on_access_ended(app: Flask, handler: AccessEndedHandler) -> None:
    hooks_of(app).access_ended.append(handler)


def add_dashboard_panel(app: Flask, template: str, context: PanelContext) -> None:
    """Show `template`, with the variables `context()` gives, on IT's dashboard."""
    hooks_of(app).dashboard_panels.append((template, context))


def set_start_page(app: Flask, role: str, endpoint: str) -> None:
    hooks_of(app).start_pages[role] = endpoint


def set_support_eligibility(app: Flask, provider: SupportEligibilityProvider) -> None:
    """`provider(account_number, line_codes)` tells the customer's pages about support."""
    hooks_of(app).support_eligibility = provider


def set_client_account_check(app: Flask, check: ClientAccountCheck) -> None:
    """`check(db, client_id, account_id)`: a machine client's account allow-list."""
    hooks_of(app).client_account_check = check


def set_agreement_check(app: Flask, check: AgreementCheck) -> None:
    """The one comparison of a line's new-system data with Salesforce."""
    hooks_of(app).agreement_check = check


def signed_in(user: SignedInUser, target: str | None) -> Response:
    """The answer to a completed sign-in: the registered handler's, else `target` or /."""
    handlers = hooks_of(current_app).signed_in
    if handlers:
        return handlers[0](user, target)
    return redirect(target or "/")


def signing_out(session: MutableMapping[str, Any]) -> None:
    """Tell every registered party that this session ends."""
    for handler in hooks_of(current_app).signing_out:
        handler(session)


def start_page(role: str) -> str | None:
    """The URL of the start page for `role`, if a capability registered one."""
    endpoint = hooks_of(current_app).start_pages.get(role)
    return url_for(endpoint) if endpoint else None


def access_ended(user_id: int) -> None:
    """Tell every registered party that `user_id` may no longer use anything of ours."""
    for handler in hooks_of(current_app).access_ended:
        handler(user_id)


def dashboard_panels() -> list[tuple[str, dict[str, Any]]]:
    """Each registered panel's template and its variables, in the order registered."""
    return [(template, context()) for template, context in hooks_of(current_app).dashboard_panels]


def support_eligibility_of(
    account_number: str, line_codes: list[str]
) -> dict[str, SupportCoverage]:
    """Support coverage per line code; {} when nobody provides it (Salesforce is not
    connected), and the pages then say nothing about support."""
    provider = hooks_of(current_app).support_eligibility
    if provider is None or not line_codes:
        return {}
    return provider(account_number, line_codes)


def client_may_read_account(db: Any, client_id: str, account_id: int) -> bool:
    """Whether this machine client may read that account; no one to ask: it may not."""
    check = hooks_of(current_app).client_account_check
    return check is not None and check(db, client_id, account_id)


def accounts_in_agreement(db: Any, line_code: str, account_number: str | None) -> frozenset[str]:
    """The accounts whose new-system data of the line agrees with Salesforce (just
    `account_number`'s answer when given); no one to ask: none agree, so a line that
    requires agreement keeps its accounts on legacy rather than guess."""
    check = hooks_of(current_app).agreement_check
    return frozenset() if check is None else check(db, line_code, account_number)
