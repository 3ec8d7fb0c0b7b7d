"""Server-side sessions in the shared store, read only in our own JSON encoding.

flask-session's serializer (flask_session.base.MsgSpecSerializer.decode, 0.8) tries
JSON, then msgpack, then `pickle.loads` on whatever a session key holds: anyone able
to write one Redis key would run code in every worker. Here a stored value is a JSON
object or it is no session at all: the request is served signed-out, the value is
deleted and the refusal is logged.

Anonymous visitors cost nothing in the store: a new session that holds no more than
a CSRF token (the sign-out page's form, say) is not saved. Its token travels in a
signed, HttpOnly cookie instead and seeds the next anonymous request's session, so
Flask-WTF checks every form exactly as before. Only a sign-in stores a session.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

import flask
import msgspec
import redis
from flask import Flask, Request, Response, g
from flask_session.base import Serializer, ServerSideSession
from flask_session.redis import RedisSessionInterface
from itsdangerous import BadData, URLSafeTimedSerializer

from gateway.core.store import Store, StoreUnavailable, failed_in_this_request, mark_failed

log = logging.getLogger(__name__)

KEY_PREFIX = "session:"
CSRF_FIELD = "csrf_token"  # Flask-WTF's session key (WTF_CSRF_FIELD_NAME's default)
CSRF_COOKIE = "switchyard_csrf"
# What a session may hold and still not be worth storing.
ANONYMOUS_KEYS = frozenset({"_permanent", CSRF_FIELD})
# Answer even while the store is down: liveness, and readiness saying what is down.
STORELESS_ENDPOINTS = frozenset({"health.healthz", "health.readyz", "static"})
# The same by path: the session is opened before the request's endpoint is known, and
# these never read it, so they never wait on the store either (a cookie or not).
STORELESS_PATHS = frozenset({"/healthz", "/readyz"})


class UnreadableSession(ValueError):
    """A stored session value that is not one of ours."""


class JsonSessionSerializer(Serializer):  # type: ignore[misc]  # flask-session ships no types
    """JSON objects only: no msgpack and, above all, no pickle fallback."""

    def encode(self, session: ServerSideSession) -> bytes:
        return msgspec.json.encode(dict(session))

    def decode(self, serialized_data: bytes) -> dict[str, Any]:
        try:
            value = msgspec.json.decode(serialized_data)
        except msgspec.DecodeError:
            raise UnreadableSession("not JSON") from None
        if not isinstance(value, dict):
            raise UnreadableSession(f"JSON {type(value).__name__}, not an object")
        return value


class JsonRedisSessionInterface(RedisSessionInterface):  # type: ignore[misc]
    """flask-session's Redis sessions with our serializer and its refusals logged."""

    def __init__(self, app: Flask, client: Store) -> None:
        super().__init__(app, client, key_prefix=KEY_PREFIX, permanent=True)
        self.serializer = JsonSessionSerializer()

    def _retrieve_session_data(self, store_id: str) -> dict[str, Any] | None:
        stored = self.client.get(store_id)
        if not stored:
            return None
        try:
            return self.serializer.decode(stored)
        except UnreadableSession as error:
            self.client.delete(store_id)  # it can never be read; keep no trap for later
            log.warning(
                "stored session refused: %s; served as signed out",
                error,
                extra={"event": "session.unreadable", "session_digest": _digest(store_id)},
            )
            return None

    def open_session(self, app: Flask, request: Request) -> ServerSideSession:
        sid = request.cookies.get(self.get_cookie_name(app))
        if sid and _storeless(app, request):
            return self._new_session({}, unread=True)
        try:
            stored = self._retrieve_session_data(self._get_store_id(sid)) if sid else None
        except (redis.RedisError, OSError) as error:
            # Flask opens the session before any error handler is in place, and an
            # error here would leave no session for the error page (a bare 500):
            # remember the failure, and refuse_without_store answers 503.
            mark_failed()
            return self._new_session({}, unavailable=type(error).__name__)
        if stored is not None:
            return self.session_class(stored, sid=sid)
        token = _read_csrf_cookie(app, request)
        return self._new_session({CSRF_FIELD: token} if token else {})

    def _new_session(
        self, initial: dict[str, str], unavailable: str = "", *, unread: bool = False
    ) -> ServerSideSession:
        fresh = self.session_class(
            initial, sid=self._generate_sid(self.sid_length), permanent=self.permanent
        )
        fresh.new, fresh.store_unavailable, fresh.unread = True, unavailable, unread
        return fresh

    def save_session(self, app: Flask, session: ServerSideSession, response: Response) -> None:
        if getattr(session, "store_unavailable", "") or getattr(session, "unread", False):
            return  # nothing can be stored, or was read: the old session stays as it was
        if failed_in_this_request():
            return  # the store failed after the session was read: its 503 goes out as is
        if session.new and set(session) <= ANONYMOUS_KEYS:
            if session.accessed:
                response.vary.add("Cookie")
            if CSRF_FIELD in session and g.get(CSRF_FIELD):  # a form was rendered
                self._write_csrf_cookie(app, session[CSRF_FIELD], response)
            return
        if not _refresh_due(session):
            return  # unchanged and renewed moments ago: no Redis write, no Set-Cookie
        try:
            super().save_session(app, session, response)
        except redis.RedisError as error:
            # After the view, nothing can refuse the request any more: its answer goes
            # out (not a 500) and the session stays as the store last had it.
            mark_failed()
            digest = _digest(self._get_store_id(session.sid))
            log.error(
                "session not saved: %s",
                type(error).__name__,
                extra={"event": "session.not_saved", "session_digest": digest},
            )

    def _write_csrf_cookie(self, app: Flask, token: str, response: Response) -> None:
        response.set_cookie(
            CSRF_COOKIE,
            _csrf_cookie_signer(app).dumps(token),
            httponly=True,
            secure=self.get_cookie_secure(app),
            samesite="Lax",
            path=self.get_cookie_path(app),
            domain=self.get_cookie_domain(app),
        )
        response.vary.add("Cookie")


# A session slides (it ends GATEWAY_SESSION_MINUTES after its last use), renewed at most
# this often, since renewing it on every request costs a Redis write and a Set-Cookie.
RENEW_SECONDS = 60
RENEWED_AT = "_renewed_at"


def _refresh_due(session: ServerSideSession) -> bool:
    """Whether to write the session: it changed, is new, or was renewed over a minute ago
    (then it is marked renewed now, which is the change written)."""
    if not session:
        return True  # emptied (signed out): the write deletes it
    now = int(time.time())
    renewed_at = session.get(RENEWED_AT)
    if session.new or session.modified or not isinstance(renewed_at, int):
        session[RENEWED_AT] = now
        return True
    if now - renewed_at < RENEW_SECONDS:
        return False
    session[RENEWED_AT] = now
    return True


def _csrf_cookie_signer(app: Flask) -> URLSafeTimedSerializer:
    """Signed with the cookie-signing key (SECRET_KEY), not with the CSRF tokens' key."""
    key: str | bytes = app.config["SECRET_KEY"]
    return URLSafeTimedSerializer(key, salt="switchyard/anonymous-csrf")


def _read_csrf_cookie(app: Flask, request: Request) -> str | None:
    """The raw CSRF token of this browser's last anonymous form, if signed and fresh."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie:
        return None
    try:
        token = _csrf_cookie_signer(app).loads(cookie, max_age=app.config["WTF_CSRF_TIME_LIMIT"])
    except BadData:
        return None
    return token if isinstance(token, str) else None


def _storeless(app: Flask, request: Request) -> bool:
    static = f"{app.static_url_path}/"
    return request.path in STORELESS_PATHS or request.path.startswith(static)


def _digest(store_id: str) -> str:
    """Names the session in logs without revealing its id, which is a bearer secret."""
    return hashlib.sha256(store_id.encode()).hexdigest()[:16]


def refuse_without_store() -> None:
    """Fail closed: no request that could need its session runs without the store."""
    unavailable = getattr(flask.session, "store_unavailable", "")
    if unavailable and flask.request.endpoint not in STORELESS_ENDPOINTS:
        raise StoreUnavailable(f"the session could not be read: {unavailable}")


def init_app(app: Flask, client: Store) -> None:
    app.session_interface = JsonRedisSessionInterface(app, client)
    app.before_request(refuse_without_store)
