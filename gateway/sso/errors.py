"""Sign-in failures: each maps to one page that tells the person what happened."""

from __future__ import annotations

from gateway.core.errors import GatewayError


class SignInError(GatewayError):
    status = 400
    title = "We could not sign you in"
    event = "signin.refused"


class SamlResponseRejected(SignInError):
    """The IdP's response failed validation; nothing about the user is trusted."""

    event = "saml.response_rejected"


class SamlReplay(SamlResponseRejected):
    event = "saml.replay"


class UnknownAccount(SignInError):
    status = 403
    title = "Your organisation is not set up here yet"
    event = "signin.unknown_account"


class AccountDisabled(SignInError):
    status = 403
    title = "Your access has been switched off"
    event = "signin.user_disabled"


class EmailOfAnotherUser(SignInError):
    """The IdP vouched for a subject whose email address another user already holds: we
    never link them on our own (that would hand one person the other's access)."""

    status = 409
    title = "That email address belongs to another sign-in"
    event = "signin.email_of_another_user"


class SamlLogoutRejected(SignInError):
    title = "We could not process that sign-out message"
    event = "saml.logout_rejected"


class SamlNotConfigured(SignInError):
    status = 404
    event = "saml.not_configured"
