"""Who is signed in: the one place other capabilities ask."""

from __future__ import annotations

from flask import session
from sqlalchemy import select

from gateway.db import get_session
from gateway.models import User
from gateway.sso.errors import NotSignedIn


def current_user() -> User | None:
    """The signed-in, active user of this request, or None."""
    user_id = session.get("user_id")
    if not isinstance(user_id, int):
        return None
    user = get_session().scalar(select(User).where(User.id == user_id))
    if user is None or user.status != "active" or user.account_id != session.get("account_id"):
        return None
    return user


def require_user() -> User:
    """The signed-in user, or NotSignedIn (a 401 for APIs, a sign-in redirect for pages)."""
    user = current_user()
    if user is None:
        raise NotSignedIn("Sign in first.")
    return user


def has_role(role: str) -> bool:
    """Whether the sign-in that started this session granted `role` (e.g. "it")."""
    roles = session.get("roles")
    return isinstance(roles, list) and role in roles


def end_session() -> None:
    """Forget the session server-side too, so its cookie is worthless afterwards."""
    session.clear()
