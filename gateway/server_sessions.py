"""Server-side sessions in the shared store, read only in our own JSON encoding.

flask-session's serializer (flask_session/base.py, MsgSpecSerializer.decode) tries
JSON, then msgpack, then `pickle.loads` on whatever a session key holds: anyone able
to write one Redis key would run code in every worker. Here a stored value is a JSON
object or it is no session at all: the request is served signed-out, the value is
deleted and the refusal is logged.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import msgspec
from flask import Flask
from flask_session.base import Serializer, ServerSideSession
from flask_session.redis import RedisSessionInterface

from gateway.store import Store

log = logging.getLogger(__name__)

KEY_PREFIX = "session:"


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


def _digest(store_id: str) -> str:
    """Names the session in logs without revealing its id, which is a bearer secret."""
    return hashlib.sha256(store_id.encode()).hexdigest()[:16]


def init_app(app: Flask, client: Store) -> None:
    app.session_interface = JsonRedisSessionInterface(app, client)
