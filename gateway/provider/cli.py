"""`gateway client …` and `gateway keys …`: register relying parties, rotate keys."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy import select

from gateway.core.audit import record
from gateway.core.commands import command_context
from gateway.core.models import OAuthClient, ProviderKey
from gateway.core.models.base import utcnow
from gateway.core.secret_keys import secret_keys
from gateway.core.store import get_store
from gateway.provider.clients import (
    LICENSE_CENTER_GRANTS,
    LICENSE_CENTER_SCOPES,
    MACHINE_SCOPES,
    add_client,
)
from gateway.provider.errors import ClientRegistrationError
from gateway.provider.keys import key_encryption, reencrypt_keys, rotate_key


@click.group("client")
def client_group() -> None:
    """OpenID Connect clients (the license centers, machine clients)."""


@client_group.command("add")
@click.option("--name", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True, help="Exact callback URI (repeat).")
@click.option("--initiate-login-uri", help="Where a hand-off starts the client's sign-in.")
@click.option("--post-logout-uri", "post_logout_uris", multiple=True)
@click.option("--backchannel-logout-uri")
@click.option(
    "--auth-method",
    type=click.Choice(["client_secret_basic", "private_key_jwt"]),
    default="client_secret_basic",
    show_default=True,
)
@click.option(
    "--jwks-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The client's public keys (JWK Set) for private_key_jwt.",
)
@click.option("--system", "system_key", help="Key of the license center this client serves.")
@click.option("--machine", is_flag=True, help="A client_credentials client (no users).")
@click.option("--scope", help="Scopes it may ask for (space-separated).")
@click.option(
    "--account",
    "account_numbers",
    multiple=True,
    help="Machine clients: an account number it may read (repeat); without it, all.",
)
@click.option("--actor", default="cli", show_default=True)
def client_add(
    name: str,
    redirect_uris: tuple[str, ...],
    initiate_login_uri: str | None,
    post_logout_uris: tuple[str, ...],
    backchannel_logout_uri: str | None,
    auth_method: str,
    jwks_file: Path | None,
    system_key: str | None,
    machine: bool,
    scope: str | None,
    account_numbers: tuple[str, ...],
    actor: str,
) -> None:
    """Register a client. Its secret is printed once and stored only as a hash."""
    jwks = json.loads(jwks_file.read_text()) if jwks_file else None
    grants = ("client_credentials",) if machine else LICENSE_CENTER_GRANTS
    scope = scope or (MACHINE_SCOPES if machine else LICENSE_CENTER_SCOPES)
    with command_context() as (app, db):
        try:
            new = add_client(
                db,
                name=name,
                redirect_uris=list(redirect_uris),
                actor=actor,
                secret_key=secret_keys(app).secret,
                initiate_login_uri=initiate_login_uri,
                post_logout_redirect_uris=list(post_logout_uris),
                backchannel_logout_uri=backchannel_logout_uri,
                auth_method=auth_method,
                jwks=jwks,
                system_key=system_key,
                grant_types=grants,
                scope=scope,
                account_numbers=list(account_numbers) if account_numbers else None,
            )
        except ClientRegistrationError as error:
            raise click.ClickException(error.detail) from None
    click.echo(f"client_id: {new.client_id}")
    if new.client_secret:
        click.echo(f"client_secret: {new.client_secret}")
        click.echo("Store the secret now: it is not shown again.", err=True)


@client_group.command("list")
def client_list() -> None:
    """The registered clients (never their secrets)."""
    with command_context() as (_, db):
        for row in db.scalars(select(OAuthClient).order_by(OAuthClient.name)):
            state = "revoked" if row.revoked_at else "active"
            system = row.system.key if row.system else "-"
            click.echo(
                f"{row.client_id}\t{row.name}\t{system}\t{row.token_endpoint_auth_method}"
                f"\t{' '.join(row.grant_types)}\t{state}"
            )


@client_group.command("revoke")
@click.argument("client_id")
@click.option("--reason", required=True)
@click.option("--actor", default="cli", show_default=True)
def client_revoke(client_id: str, reason: str, actor: str) -> None:
    """Stop a client from signing anyone in or getting tokens."""
    with command_context() as (app, db):
        row = db.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
        if row is None:
            raise click.ClickException(f"no client {client_id}")
        row.revoked_at = utcnow()
        record(
            db,
            actor,
            "provider.client_revoked",
            f"client:{client_id}",
            reason=reason,
        )
        db.commit()
    click.echo(f"{client_id} revoked")


@click.group("keys")
def keys_group() -> None:
    """The provider's signing keys."""


@keys_group.command("rotate")
@click.option(
    "--alg",
    type=click.Choice(["RS256", "ES256"]),
    default=None,
    help="Defaults to GATEWAY_OIDC_SIGNING_ALG.",
)
@click.option("--reason", required=True)
@click.option("--actor", default="cli", show_default=True)
def keys_rotate(alg: str | None, reason: str, actor: str) -> None:
    """New signing key now; the old public key stays in the JWKS until its tokens expire."""
    with command_context() as (app, db):
        settings = app.extensions["settings"]
        new = rotate_key(
            db,
            get_store(app),
            key_encryption(secret_keys(app)),
            alg or settings.oidc_signing_alg,
            actor=actor,
            reason=reason,
        )
    click.echo(f"signing with {new.kid} ({new.alg})")


@keys_group.command("rekey")
def keys_rekey() -> None:
    """Re-encrypt every stored private key under the current key-encryption key (run
    once every instance runs this release, and after changing GATEWAY_KEY_ENCRYPTION_KEY)."""
    with command_context() as (app, db):
        count = reencrypt_keys(db, key_encryption(secret_keys(app)))
    click.echo(f"{count} signing keys re-encrypted")


@keys_group.command("list")
def keys_list() -> None:
    """Keys, newest first, with when they were retired."""
    with command_context() as (_, db):
        for row in db.scalars(select(ProviderKey).order_by(ProviderKey.created_at.desc())):
            retired = row.retired_at.isoformat() if row.retired_at else "signing"
            click.echo(f"{row.kid}\t{row.alg}\t{row.created_at.isoformat()}\t{retired}")
