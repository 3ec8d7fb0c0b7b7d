"""One typed settings object, read from GATEWAY_* environment variables.

Every variable the gateway reads is named here once, with its type and default.
Invalid or missing values stop start-up with one message naming the variable.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from pydantic_settings import SettingsError as SourceError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from gateway.core.secret_keys import check_strength, split_keys
from gateway.core.smtp_url import parse_smtp_url

PERMISSIONS = ("portal", "licensing", "downloads", "admin")

DEFAULT_ATTRIBUTE_MAP = {
    "email": "email",
    "first_name": "firstName",
    "last_name": "lastName",
    "account_number": "accountId",
}
# Optional identity fields: a map that leaves them out gets these attribute names.
OPTIONAL_ATTRIBUTES = {"groups": "groups"}

# Upstream OpenID Connect claim names for our identity fields; `sub` is the subject.
DEFAULT_CLAIM_MAP = {
    "subject": "sub",
    "email": "email",
    "first_name": "given_name",
    "last_name": "family_name",
    "account_number": "account_number",
}
# Optional claim: the group memberships (default claim name `groups`).
OPTIONAL_CLAIMS = {"groups": "groups"}
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The databases the migrations are written and tested for.
DATABASE_BACKENDS = ("postgresql", "sqlite")
# A JSON object from one environment variable, parsed by our validator (not by
# pydantic-settings, whose parse error is a traceback that names no variable).
JsonMap = Annotated[dict[str, str], NoDecode]
# A SOQL field: an API name, or one relationship hop (Product2.Family).
SOQL_FIELD = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}(\.[A-Za-z][A-Za-z0-9_]{0,79})?")


SettingsModel = TypeVar("SettingsModel", bound=BaseSettings)


class SettingsError(Exception):
    """Raised when the environment does not describe a runnable gateway."""


class Settings(BaseSettings):
    """The gateway's whole configuration; docs/configuration.md lists each variable."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    # Where the durable directory lives. Unset: a SQLite file in the per-user data folder.
    database_url: str | None = None
    # Shared short-lived state. Unset: an embedded in-process store (single instance only).
    redis_url: str | None = None
    # Connect and read deadline of every Redis command (sessions, store, rate limits):
    # past it the request answers 503 instead of holding a worker thread.
    redis_timeout_seconds: float = Field(default=0.5, gt=0, le=30)
    # PostgreSQL deadlines (not applied to SQLite): connecting (libpq counts whole
    # seconds, at least 2), waiting for a pooled connection, one statement of a request,
    # and one wait for a lock (0: none). Past any of them the request answers 503.
    # Background jobs and commands get no statement or lock deadline (db.new_session).
    database_connect_timeout_seconds: int = Field(default=3, ge=2, le=60)
    database_pool_timeout_seconds: float = Field(default=3.0, gt=0, le=60)
    database_statement_timeout_seconds: float = Field(default=5.0, ge=0, le=3600)
    database_lock_timeout_seconds: float = Field(default=2.0, ge=0, le=3600)
    # Requests one worker process runs at once (0: as many as it has threads); the others
    # wait for a turn at most queue_seconds, then answer 503 (gateway.core.admission).
    active_requests: int = Field(default=2, ge=0, le=256)
    queue_seconds: float = Field(default=1.0, gt=0, le=60)
    # The whole request, from its arrival (the wait for a turn included) to its answer:
    # no dependency call starts after it, and no PostgreSQL statement runs past it
    # (gateway.core.deadline). Below the worker timeout (30 s), which kills a worker.
    request_deadline_seconds: float = Field(default=15.0, gt=0, le=600)
    # python3-saml settings folder (settings.json, advanced_settings.json, certs/).
    saml_dir: Path = Path("idp_config")
    # The root of the keys that sign cookies and CSRF tokens and hash API tokens (one
    # derived key per purpose); required outside demo and tests.
    secret_key: str | None = None
    # Encrypts the provider's private signing keys at rest. Unset: a key derived from
    # GATEWAY_SECRET_KEY. Comma-separated, newest first, to rotate it.
    key_encryption_key: str | None = None
    # Public URL of this gateway; the SP entity ID and ACS URL derive from it.
    base_url: str = "http://localhost:8000"
    # Accept unsolicited (IdP-initiated) SAML responses.
    saml_idp_initiated: bool = False
    # SAML attribute names for our identity fields (JSON object); NameID is the subject.
    saml_attribute_map: JsonMap = Field(default_factory=lambda: dict(DEFAULT_ATTRIBUTE_MAP))
    # The community portal as an upstream OpenID Connect provider (beside or instead of SAML).
    oidc_issuer: str | None = None
    oidc_client_id: str | None = Field(default=None, validate_default=True)
    oidc_client_secret: str | None = Field(default=None, validate_default=True)
    oidc_scope: str = "openid email profile"
    # Claim names for our identity fields (JSON object).
    oidc_claim_map: JsonMap = Field(default_factory=lambda: dict(DEFAULT_CLAIM_MAP))
    # Tolerated clock difference with the upstream provider (id_token times, fresh sign-ins).
    oidc_clock_skew_seconds: int = Field(default=60, ge=0, le=300)
    # One deadline for each request to the upstream provider (discovery, keys, token, userinfo).
    oidc_http_deadline_seconds: float = Field(default=5.0, gt=0, le=30)
    # What /login starts. Unset: saml when SAML is configured, else oidc.
    login_method: Literal["saml", "oidc"] | None = None
    # OpenID Connect provider lifetimes, in seconds.
    oidc_code_seconds: int = Field(default=60, ge=10, le=600)
    oidc_access_token_seconds: int = Field(default=600, ge=60, le=86400)
    oidc_id_token_seconds: int = Field(default=300, ge=60, le=86400)
    # Back-channel logout deliveries: attempts per relying party, and the delay before
    # the first retry in seconds (doubling after each failure).
    oidc_backchannel_logout_attempts: int = Field(default=4, ge=1, le=10)
    oidc_backchannel_logout_retry_seconds: float = Field(default=2.0, ge=0.0, le=60.0)
    # Algorithm of newly created signing keys: RS256 or ES256.
    oidc_signing_alg: str = Field(default="RS256", pattern="^(RS256|ES256)$")
    # Tolerated clock difference with the IdP, in seconds.
    saml_clock_skew_seconds: int = Field(default=90, ge=0, le=300)
    # Permissions a user gets when first seen at sign-in (space-separated).
    jit_permissions: str = "portal licensing downloads"
    # Days after its end date an entitlement still counts as active.
    entitlement_grace_days: int = Field(default=0, ge=0, le=365)
    # Shown on the "no entitlements" page.
    support_contact: str = "support@example.com"
    # How long a signed-in session lasts, in minutes.
    session_minutes: int = Field(default=480, ge=5, le=7 * 24 * 60)
    # However active it is, a session ends this long after its sign-in (absolute, not
    # sliding); a session with the IT role sooner, since it can move product lines.
    session_absolute_hours: int = Field(default=12, ge=1, le=7 * 24)
    it_session_absolute_hours: int = Field(default=4, ge=1, le=7 * 24)
    # Sign-in rate limit per client address (flask-limiter notation).
    signin_rate_limit: str = "30/minute"
    # Failed bearer-token checks (401s of the JSON API and SCIM) per client address, one
    # budget for all of them: guessing runs out of tries, a good token spends nothing.
    credential_failure_rate_limit: str = "30/minute"
    # /oidc/token rate limits (flask-limiter notation): per claimed client id, per address.
    oidc_token_rate_limit_per_client: str = "300/minute"  # noqa: S105 - a rate, not a secret
    oidc_token_rate_limit_per_address: str = "300/minute"  # noqa: S105 - a rate, not a secret
    # Members of this IdP group (the `groups` attribute) get the vendor IT role.
    it_group: str = Field(default="switchyard-it", min_length=1)
    # Members of this IdP group get the vendor support role (reading customers' set-up).
    support_group: str = Field(default="switchyard-support", min_length=1)
    # Apply due scheduled product-line changes from a background thread in each process.
    scheduler_enabled: bool = True
    scheduler_interval_seconds: int = Field(default=15, ge=1, le=3600)
    # Health probe URL per system key (JSON object); probed in the background, not per login.
    system_health_urls: JsonMap = Field(default_factory=dict)
    health_check_enabled: bool = True
    health_check_interval_seconds: int = Field(default=15, ge=1, le=3600)
    # Number of reverse proxies in front of us whose X-Forwarded-For we trust.
    trusted_proxies: int = Field(default=0, ge=0, le=5)
    log_level: str = "INFO"
    # Bearer token Prometheus presents at /metrics. Unset: /metrics answers 404.
    metrics_token: str | None = Field(default=None, min_length=32)
    # Outbound mail (invitations). smtp:// is STARTTLS (required), smtps:// implicit TLS,
    # smtp+plain:// unencrypted to localhost only. Unset: mail stays queued, unsent.
    smtp_url: str | None = None
    # A CA bundle (PEM) to verify the SMTP server's certificate with instead of the system's.
    smtp_ca_file: Path | None = None
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    mail_from: str = "Product & License Center <no-reply@localhost>"
    # The delivery job: how often it looks for due mail, how often a message is tried,
    # and the delay before its first retry (doubling, with jitter, up to the maximum).
    mail_delivery_enabled: bool = True
    mail_interval_seconds: int = Field(default=10, ge=1, le=3600)
    mail_attempts: int = Field(default=6, ge=1, le=20)
    mail_retry_seconds: int = Field(default=60, ge=1, le=3600)
    mail_max_backoff_seconds: int = Field(default=3600, ge=1, le=86400)
    # How long an invitation's link works.
    invitation_days: int = Field(default=7, ge=1, le=90)
    # Renewal reminders to org admins: whether each process looks for due ones, and how often.
    renewal_reminders_enabled: bool = True
    renewal_interval_seconds: int = Field(default=3600, ge=60, le=86400)
    # Salesforce (docs/salesforce.md). The login URL is where tokens come from
    # (https://login.salesforce.com, https://test.salesforce.com or a My Domain URL);
    # unset: no Salesforce sync.
    salesforce_login_url: str | None = None
    salesforce_api_version: str = Field(default="62.0", pattern=r"^[1-9][0-9]\.0$")
    # OAuth 2.0 JWT bearer flow: the connected app's consumer key, the integration
    # user's username and the private key (PEM) whose certificate the app holds...
    salesforce_consumer_key: str | None = None
    salesforce_username: str | None = None
    salesforce_private_key_file: Path | None = None
    # ...or the client credentials flow (the connected app's run-as user).
    salesforce_client_id: str | None = None
    salesforce_client_secret: str | None = None
    # A CA bundle (PEM) to verify Salesforce's certificate with instead of the system's.
    salesforce_ca_file: Path | None = None
    # Which Salesforce fields carry our account number, the product line code and the
    # unit of measure (SOQL field names; a relationship field such as Product2.Family).
    salesforce_account_number_field: str = "AccountNumber"
    salesforce_product_line_field: str = "Product2.Family"
    salesforce_unit_field: str = "Unit_of_Measure__c"
    # The Account field carrying the account's IANA time zone (support eligibility's
    # "today"), e.g. Time_Zone__c. Unset: every account is in GATEWAY_SUPPORT_DEFAULT_TIME_ZONE.
    salesforce_time_zone_field: str | None = None
    # One HTTP request's deadline; failed requests are tried this often in all, waiting
    # about retry_seconds, doubling with jitter, up to max_backoff_seconds.
    salesforce_timeout_seconds: float = Field(default=60.0, gt=0, le=600)
    salesforce_attempts: int = Field(default=5, ge=1, le=20)
    salesforce_retry_seconds: float = Field(default=2.0, ge=0, le=60)
    salesforce_max_backoff_seconds: float = Field(default=60.0, ge=0, le=3600)
    # Records per Bulk API 2.0 results page (maxRecords) on full loads.
    salesforce_bulk_page_records: int = Field(default=50_000, ge=1, le=1_000_000)
    # How long to wait between status checks of a Bulk API 2.0 query job.
    salesforce_bulk_poll_seconds: float = Field(default=2.0, ge=0, le=60)
    # The scheduled sync: an incremental run every this many seconds, by one instance
    # per slot. 0: none (run `gateway sync salesforce` from cron or --watch instead).
    salesforce_sync_interval_seconds: int = Field(default=0, ge=0, le=7 * 86400)
    # The time zone (IANA name) whose "today" support eligibility is judged in, for an
    # account whose Salesforce Account names none (salesforce_time_zone_field).
    support_default_time_zone: str = "UTC"

    @field_validator("support_default_time_zone")
    @classmethod
    def _time_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError("must be an IANA time zone name such as Europe/Berlin") from None
        return value

    @field_validator("request_deadline_seconds")
    @classmethod
    def _longer_than_the_queue(cls, value: float, info: ValidationInfo) -> float:
        queue = info.data.get("queue_seconds")
        if queue is not None and value <= queue:
            raise ValueError(f"must be longer than GATEWAY_QUEUE_SECONDS ({queue})")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.upper() not in LOG_LEVELS:
            raise ValueError(f"must be one of {list(LOG_LEVELS)}")
        return value.upper()

    @field_validator("saml_attribute_map", "oidc_claim_map", "system_health_urls", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"not valid JSON ({error})") from None
        if not isinstance(parsed, dict):
            raise ValueError("must be a JSON object")
        return parsed

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        example = "postgresql+psycopg://user:password@host/switchyard or sqlite:////path/gateway.db"
        try:
            url = make_url(value)
            url.get_dialect()
        except (ArgumentError, NoSuchModuleError, ValueError):
            raise ValueError(f"not a database URL; expected e.g. {example}") from None
        if url.get_backend_name() not in DATABASE_BACKENDS:
            raise ValueError(f"unsupported database {url.get_backend_name()!r}; expected {example}")
        return value

    @field_validator("base_url")
    @classmethod
    def _absolute_base_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) URL such as https://sso.example.com")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment")
        return value.rstrip("/")

    @field_validator("redis_url")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("redis", "rediss", "unix", "redis+sentinel"):
            raise ValueError(
                "must be a redis://, rediss://, unix:// or "
                "redis+sentinel://host:port[,host:port…]/service_name URL"
            )
        if parts.scheme == "redis+sentinel" and not (parts.netloc and parts.path.strip("/")):
            raise ValueError("a redis+sentinel:// URL names the sentinels and the service")
        return value

    @field_validator(
        "signin_rate_limit",
        "oidc_token_rate_limit_per_client",
        "oidc_token_rate_limit_per_address",
        "credential_failure_rate_limit",
    )
    @classmethod
    def _rate_limit_notation(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError:
            raise ValueError("must be flask-limiter notation such as 300/minute") from None
        return value

    @field_validator("jit_permissions")
    @classmethod
    def _known_permissions(cls, value: str) -> str:
        unknown = set(value.split()) - set(PERMISSIONS)
        if unknown:
            raise ValueError(f"unknown permissions {sorted(unknown)}; known: {list(PERMISSIONS)}")
        return value

    @field_validator("saml_attribute_map")
    @classmethod
    def _complete_attribute_map(cls, value: dict[str, str]) -> dict[str, str]:
        _known_keys(value, DEFAULT_ATTRIBUTE_MAP, OPTIONAL_ATTRIBUTES)
        return {**OPTIONAL_ATTRIBUTES, **value}

    @field_validator("system_health_urls")
    @classmethod
    def _absolute_health_urls(cls, value: dict[str, str]) -> dict[str, str]:
        for key, url in value.items():
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{key}: must be an absolute http(s) URL")
        return value

    @field_validator("oidc_issuer")
    @classmethod
    def _issuer_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        loopback = parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS
        if not (parts.scheme == "https" or loopback) or not parts.netloc:
            raise ValueError("must be an https URL (http only on localhost)")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment")
        return value  # kept exactly: id_tokens must name this very string

    @field_validator("oidc_client_id", "oidc_client_secret")
    @classmethod
    def _needed_with_issuer(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("oidc_issuer") and not value:
            raise ValueError("required when GATEWAY_OIDC_ISSUER is set")
        return value

    @field_validator("oidc_scope")
    @classmethod
    def _openid_scope(cls, value: str) -> str:
        if "openid" not in value.split():
            raise ValueError("must include openid")
        return value

    @field_validator("oidc_claim_map")
    @classmethod
    def _complete_claim_map(cls, value: dict[str, str]) -> dict[str, str]:
        _known_keys(value, DEFAULT_CLAIM_MAP, OPTIONAL_CLAIMS)
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_key_is_strong(cls, value: str | None) -> str | None:
        if value is not None:
            check_strength(value)
        return value

    @field_validator("key_encryption_key")
    @classmethod
    def _key_encryption_keys_are_strong(cls, value: str | None, info: ValidationInfo) -> str | None:
        for key in split_keys(value):
            check_strength(key)
            if key == info.data.get("secret_key"):
                raise ValueError("must differ from GATEWAY_SECRET_KEY, or it protects nothing")
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url(cls, value: str | None) -> str | None:
        if value is not None:
            parse_smtp_url(value)
        return value

    @field_validator("smtp_ca_file")
    @classmethod
    def _readable_ca_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file {value}")
        return value

    @field_validator("mail_from")
    @classmethod
    def _mail_from_address(cls, value: str) -> str:
        from email.utils import parseaddr

        _name, address = parseaddr(value)
        if "@" not in address or any(c in value for c in "\r\n"):
            raise ValueError(
                "must be an address such as 'Product & License Center <no-reply@example.com>'"
            )
        return value

    @field_validator("salesforce_login_url")
    @classmethod
    def _salesforce_login_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname or parts.query or parts.fragment:
            raise ValueError("must be an https:// URL such as https://login.salesforce.com")
        return value.rstrip("/")

    @field_validator("salesforce_private_key_file", "salesforce_ca_file")
    @classmethod
    def _readable_salesforce_file(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"no such file {value}")
        return value

    @field_validator("salesforce_private_key_file")
    @classmethod
    def _complete_jwt_bearer(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is not None:
            for needed in ("salesforce_consumer_key", "salesforce_username"):
                if not info.data.get(needed):
                    raise ValueError(f"needs GATEWAY_{needed.upper()} too (JWT bearer flow)")
        return value

    @field_validator("salesforce_client_secret")
    @classmethod
    def _complete_client_credentials(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not info.data.get("salesforce_client_id"):
            raise ValueError("needs GATEWAY_SALESFORCE_CLIENT_ID too (client credentials flow)")
        return value

    @field_validator(
        "salesforce_account_number_field",
        "salesforce_product_line_field",
        "salesforce_unit_field",
        "salesforce_time_zone_field",
    )
    @classmethod
    def _soql_field_name(cls, value: str | None) -> str | None:
        if value is not None and not SOQL_FIELD.fullmatch(value):
            raise ValueError(
                "must be a Salesforce field name such as Unit_of_Measure__c or Product2.Family"
            )
        return value

    @property
    def is_https(self) -> bool:
        """Whether the public URL is https, which decides Secure cookies and HSTS."""
        return self.base_url.startswith("https://")

    @property
    def jit_permission_set(self) -> frozenset[str]:
        return frozenset(self.jit_permissions.split())

    @property
    def salesforce_auth(self) -> str | None:
        """Which OAuth flow the Salesforce settings describe: `jwt-bearer`,
        `client-credentials`, or None when they describe none."""
        if self.salesforce_private_key_file is not None:
            return "jwt-bearer"
        if self.salesforce_client_secret is not None:
            return "client-credentials"
        return None


class ServerSettings(BaseSettings):
    """gunicorn's own settings, read by gateway.gunicorn_conf in the master process."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    # 0 asks the kernel for any free port (gunicorn logs which).
    port: int = Field(default=8000, ge=0, le=65535, validation_alias="PORT")
    bind_host: str = Field(default="0.0.0.0", min_length=1)  # noqa: S104 - behind a proxy
    # Unset: 2 x cores + 1 (always 1 without GATEWAY_REDIS_URL).
    workers: int | None = Field(default=None, ge=1, le=256)
    # More threads than GATEWAY_ACTIVE_REQUESTS (2): the others wait for a turn, so the
    # health checks always find a free one (gateway.core.admission).
    threads: int = Field(default=8, ge=1, le=64)
    timeout: int = Field(default=30, ge=1, le=3600)
    # A worker is replaced after about this many requests; 0 never.
    max_requests: int = Field(default=5000, ge=0)
    forwarded_allow_ips: str = Field(default="127.0.0.1", validation_alias="FORWARDED_ALLOW_IPS")


def _known_keys(value: dict[str, str], required: dict[str, str], optional: dict[str, str]) -> None:
    """A map names every required key and nothing we do not know (a typo is not ignored)."""
    missing = set(required) - set(value)
    if missing:
        raise ValueError(f"missing keys {sorted(missing)}")
    unknown = set(value) - set(required) - set(optional)
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; known: {[*required, *optional]}")


def load_settings(**overrides: object) -> Settings:
    """Read settings from GATEWAY_* environment variables; keyword overrides win.

    Raises SettingsError naming the offending GATEWAY_* variable, in one line.
    """
    return load_model(Settings, overrides)


def load_server_settings() -> ServerSettings:
    """gunicorn's settings from the environment; SettingsError names the variable."""
    return load_model(ServerSettings, {})


def load_model(model: type[SettingsModel], overrides: dict[str, Any]) -> SettingsModel:
    """`model` from the environment, or a one-line SettingsError naming the variable."""
    try:
        return model(**overrides)
    except ValidationError as error:
        first = error.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "settings"
        # An alias (PORT) is the variable's own name; a field gets the prefix.
        variable = field if field.isupper() else f"GATEWAY_{field.upper()}"
        raise SettingsError(one_line(f"{variable}: {first['msg']}")) from None
    except SourceError as error:  # a value pydantic-settings itself could not decode
        named = re.search(r'field "(\w+)"', str(error))
        variable = f"GATEWAY_{named.group(1).upper()}" if named else "GATEWAY_*"
        raise SettingsError(f"{variable}: cannot be read ({one_line(str(error))})") from None


def one_line(message: str) -> str:
    """`message` with its line breaks folded, so an error is always one line."""
    return " ".join(message.split())


def current_settings() -> Settings:
    """The settings of the app handling the current request or command."""
    from flask import current_app

    settings: Settings = current_app.extensions["settings"]
    return settings


def require_secret_key(settings: Settings) -> str:
    """The secret key, or a SettingsError: production never runs on a made-up key."""
    if not settings.secret_key:
        raise SettingsError(
            "GATEWAY_SECRET_KEY: required (at least 32 random characters); "
            "generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'"
        )
    return settings.secret_key
