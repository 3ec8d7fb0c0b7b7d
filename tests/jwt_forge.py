"""Builds JWTs for attack tests, including the ones a careful library refuses to make:
`alg=none`, and HS256 keyed with the victim's public key (algorithm confusion)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def signing_input(header: dict[str, Any], claims: dict[str, Any]) -> str:
    parts = (json.dumps(header).encode(), json.dumps(claims).encode())
    return ".".join(b64url(part) for part in parts)


def unsigned(claims: dict[str, Any], **header: Any) -> str:
    """`alg: none` with an empty signature."""
    return signing_input({"alg": "none", **header}, claims) + "."


def hs256(claims: dict[str, Any], secret: bytes, **header: Any) -> str:
    """HMAC-signed with any bytes as the secret, such as a published public key."""
    message = signing_input({"alg": "HS256", **header}, claims)
    mac = hmac.new(secret, message.encode(), hashlib.sha256).digest()
    return f"{message}.{b64url(mac)}"


@dataclass(frozen=True)
class RsaKey:
    """An RSA key with its kid, its public JWK and its PEM forms."""

    kid: str
    private_pem: bytes

    @classmethod
    def generate(cls, kid: str) -> RsaKey:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return cls(kid, pem)

    @property
    def public_pem(self) -> bytes:
        private = serialization.load_pem_private_key(self.private_pem, password=None)
        return private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def public_jwk(self) -> dict[str, Any]:
        public = serialization.load_pem_public_key(self.public_pem)
        jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(public))
        return {**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        """RS256, with this key's kid unless the header names another."""
        return jwt.encode(
            claims, self.private_pem, algorithm="RS256", headers={"kid": self.kid, **header}
        )
