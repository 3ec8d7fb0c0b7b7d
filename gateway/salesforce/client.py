"""Salesforce over HTTPS: sign-in, REST queries through simple-salesforce, Bulk API 2.0
query jobs, and the retry rules every request follows.

simple-salesforce does the REST query API (query, query_more, queryAll) and maps
Salesforce's error bodies to its exceptions. Two parts are ours, each for a reason
(README, "Dependencies"):

- Sign-in: simple-salesforce's login builds the token URL as
  https://{domain}.salesforce.com, so it cannot use GATEWAY_SALESFORCE_LOGIN_URL as
  given. We post the JWT bearer assertion (PyJWT, RS256) or the client credentials to
  {login URL}/services/oauth2/token ourselves and hand the access token and instance
  URL to simple_salesforce.Salesforce(instance_url=, session_id=).
- Bulk API 2.0: its public `bulk2.<Object>.query()` is a generator over the whole job;
  one failed page ends the generator, so retrying means a new job from the start, and
  the page-by-page calls (`get_query_results` with a locator) sit on a private class.
  We make the four Bulk 2.0 query calls with the same requests session and retry each
  page by its Sforce-Locator.

Every request has a deadline. REQUEST_LIMIT_EXCEEDED (403), 5xx, dropped connections
and timeouts are retried with exponential backoff and full jitter, within
GATEWAY_SALESFORCE_ATTEMPTS; 401 INVALID_SESSION_ID signs in again, once.
"""

from __future__ import annotations

import csv
import io
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import partial
from typing import Any, TypeVar

import jwt
import requests
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
)
from simple_salesforce.util import exception_handler

from gateway.core.settings import Settings
from gateway.salesforce.errors import (
    QueryLocatorExpired,
    SalesforceNotConfigured,
    SalesforceRefused,
    SalesforceUnavailable,
)

T = TypeVar("T")
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# Connection-level failures worth another try: refused or reset connections, a body
# cut off half way (ChunkedEncodingError), and deadlines passed.
RETRYABLE_TRANSPORT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)
# How long a Bulk API 2.0 job may take to complete before the run gives up on it.
BULK_JOB_DEADLINE = timedelta(hours=2)


@dataclass(frozen=True)
class Retry:
    """Attempts per request, and the backoff between them: full jitter (a random wait
    up to base x 2^n, capped), so many clients hitting a limit do not retry in step."""

    attempts: int
    base_seconds: float
    max_seconds: float
    sleep: Callable[[float], None] = time.sleep

    def pause(self, failures: int) -> None:
        ceiling = min(self.max_seconds, self.base_seconds * 2 ** (failures - 1))
        self.sleep(random.uniform(0, ceiling))  # noqa: S311 - jitter, not a secret


class SalesforceClient:
    """One signed-in connection to an org, for one sync run."""

    def __init__(self, settings: Settings, *, sleep: Callable[[float], None] = time.sleep) -> None:
        if settings.salesforce_login_url is None:
            raise SalesforceNotConfigured(
                "Salesforce is not configured: set GATEWAY_SALESFORCE_LOGIN_URL"
            )
        if settings.salesforce_auth is None:
            raise SalesforceNotConfigured(
                "Salesforce sign-in is not configured: set GATEWAY_SALESFORCE_CONSUMER_KEY, "
                "GATEWAY_SALESFORCE_USERNAME and GATEWAY_SALESFORCE_PRIVATE_KEY_FILE (JWT "
                "bearer), or GATEWAY_SALESFORCE_CLIENT_ID and GATEWAY_SALESFORCE_CLIENT_SECRET"
            )
        self.settings = settings
        self.login_url = settings.salesforce_login_url
        self.timeout = settings.salesforce_timeout_seconds
        self.retry = Retry(
            settings.salesforce_attempts,
            settings.salesforce_retry_seconds,
            settings.salesforce_max_backoff_seconds,
            sleep,
        )
        self.http = _Session()
        if settings.salesforce_ca_file is not None:
            self.http.verify = str(settings.salesforce_ca_file)
        self._salesforce: Salesforce | None = None
        self.sign_ins = 0
        self.retries = 0

    def close(self) -> None:
        self.http.close()

    # --- signing in -----------------------------------------------------------

    def _sign_in(self) -> Salesforce:
        token = self._retried("sign-in", self._request_token)
        self.sign_ins += 1
        return Salesforce(
            instance_url=token["instance_url"],
            session_id=token["access_token"],
            version=self.settings.salesforce_api_version,
            session=self.http,
        )

    def _request_token(self) -> dict[str, Any]:
        settings = self.settings
        form: dict[str, str]
        if settings.salesforce_auth == "jwt-bearer":
            assert settings.salesforce_private_key_file is not None  # noqa: S101 - by settings
            claims = {
                "iss": settings.salesforce_consumer_key,
                "sub": settings.salesforce_username,
                "aud": self.login_url,
                # Salesforce accepts assertions valid for at most 3 minutes.
                "exp": int((datetime.now(UTC) + timedelta(minutes=3)).timestamp()),
            }
            key = settings.salesforce_private_key_file.read_text()
            form = {"grant_type": JWT_BEARER, "assertion": jwt.encode(claims, key, "RS256")}
        else:
            form = {
                "grant_type": "client_credentials",
                "client_id": settings.salesforce_client_id or "",
                "client_secret": settings.salesforce_client_secret or "",
            }
        response = self.http.post(
            f"{self.login_url}/services/oauth2/token", data=form, timeout=self.timeout
        )
        if response.status_code >= 500:
            exception_handler(response, "token")  # a server error: retried
        if response.status_code != 200:
            body = _json_or_empty(response)
            raise SalesforceRefused(
                f"Salesforce refused the sign-in ({settings.salesforce_auth}): "
                f"{body.get('error', response.status_code)}: {body.get('error_description', '')}"
            )
        token: dict[str, Any] = response.json()
        return token

    def salesforce(self) -> Salesforce:
        if self._salesforce is None:
            self._salesforce = self._sign_in()
        return self._salesforce

    # --- the retry rules --------------------------------------------------------

    def _retried(self, what: str, call: Callable[[], T]) -> T:
        failures = 0
        while True:
            try:
                return call()
            except SalesforceExpiredSession:
                raise
            except (
                SalesforceRefusedRequest,
                SalesforceGeneralError,
                *RETRYABLE_TRANSPORT,
            ) as error:
                if not _retryable(error):
                    raise SalesforceRefused(f"{what}: {describe(error)}") from None
                failures += 1
                if failures >= self.retry.attempts:
                    raise SalesforceUnavailable(
                        f"{what}: {describe(error)} (gave up after {failures} attempts)"
                    ) from None
                self.retries += 1
                self.retry.pause(failures)
            except SalesforceMalformedRequest as error:
                if _error_code(error) == "INVALID_QUERY_LOCATOR":
                    raise QueryLocatorExpired(f"{what}: {describe(error)}") from None
                raise SalesforceRefused(f"{what}: {describe(error)}") from None
            except SalesforceError as error:
                raise SalesforceRefused(f"{what}: {describe(error)}") from None

    def call(self, what: str, request: Callable[[Salesforce], T]) -> T:
        """`request` with the retry rules, signing in again once if the session expired."""
        signed_in_again = False
        while True:
            salesforce = self.salesforce()
            try:
                return self._retried(what, partial(request, salesforce))
            except SalesforceExpiredSession as error:
                if signed_in_again:
                    raise SalesforceRefused(
                        f"{what}: {describe(error)} (again, right after signing in again)"
                    ) from None
                signed_in_again = True
                self._salesforce = None

    # --- the calls --------------------------------------------------------------

    def server_time(self) -> datetime:
        """Salesforce's clock (its Date header, to the second), the start of a run's window."""

        def versions(salesforce: Salesforce) -> datetime:
            response = self._get(salesforce, salesforce.base_url)
            return parsedate_to_datetime(response.headers["Date"]).astimezone(UTC)

        return self.call("server time", versions)

    def query_pages(self, soql: str, *, include_deleted: bool = False) -> Iterator[list[Any]]:
        """Every page of a REST query (queryAll with include_deleted), following every
        nextRecordsUrl; each page retried on its own."""
        endpoint = "queryAll" if include_deleted else "query"
        page = self.call(
            endpoint,
            lambda sf: sf.query(soql, include_deleted=include_deleted, timeout=self.timeout),
        )
        yield list(page["records"])
        while not page["done"]:
            following = page["nextRecordsUrl"]
            page = self.call(
                f"{endpoint} {following}",
                partial(self._query_more, following),
            )
            yield list(page["records"])

    def bulk_query(self, soql: str) -> Iterator[tuple[list[dict[str, str]], int]]:
        """A Bulk API 2.0 query job's results, a page (Sforce-Locator) at a time, with
        the job's record count: created, waited for until JobComplete, then read."""
        job = self.call(
            "bulk query job",
            lambda sf: self._post(
                sf, sf.bulk2_url + "query", {"operation": "query", "query": soql}
            ).json(),
        )
        job_url = self.salesforce().bulk2_url + f"query/{job['id']}"
        deadline = datetime.now(UTC) + BULK_JOB_DEADLINE
        while True:
            status = self.call("bulk job status", lambda sf: self._get(sf, job_url).json())
            if status["state"] == "JobComplete":
                break
            if status["state"] in ("Failed", "Aborted"):
                raise SalesforceRefused(
                    f"bulk query job {job['id']} {status['state']}: "
                    f"{status.get('errorMessage', '')}"
                )
            if datetime.now(UTC) > deadline:
                raise SalesforceUnavailable(
                    f"bulk query job {job['id']} is still {status['state']}"
                )
            self.retry.sleep(self.settings.salesforce_bulk_poll_seconds)
        total = int(status.get("numberRecordsProcessed", 0))
        locator = ""
        while True:
            params = {"maxRecords": str(self.settings.salesforce_bulk_page_records)}
            if locator:
                params["locator"] = locator
            response = self.call(
                "bulk query results",
                partial(self._results_page, job_url, dict(params)),
            )
            rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8"))))
            yield rows, total
            locator = response.headers.get("Sforce-Locator", "null")
            if locator in ("", "null"):
                return

    def _query_more(self, url: str, salesforce: Salesforce) -> Any:
        return salesforce.query_more(url, identifier_is_url=True, timeout=self.timeout)

    def _results_page(
        self, job_url: str, params: dict[str, str], salesforce: Salesforce
    ) -> requests.Response:
        return self._get(salesforce, job_url + "/results", params=params, accept="text/csv")

    def _get(
        self,
        salesforce: Salesforce,
        url: str,
        *,
        params: dict[str, str] | None = None,
        accept: str = "application/json",
    ) -> requests.Response:
        headers = {**salesforce.headers, "Accept": accept}
        response = self.http.get(url, headers=headers, params=params, timeout=self.timeout)
        if response.status_code >= 300:
            exception_handler(response, url)
        response.content  # noqa: B018 - read the whole body now, inside the retry
        return response

    def _post(self, salesforce: Salesforce, url: str, body: dict[str, Any]) -> requests.Response:
        response = self.http.post(url, headers=salesforce.headers, json=body, timeout=self.timeout)
        if response.status_code >= 300:
            exception_handler(response, url)
        return response


class _Session(requests.Session):
    """A requests session whose own CA bundle wins over REQUESTS_CA_BUNDLE and
    CURL_CA_BUNDLE (requests lets those override `session.verify`)."""

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        merged: dict[str, Any] = super().merge_environment_settings(
            url, proxies, stream, verify, cert
        )
        if verify is None and isinstance(self.verify, str):
            merged["verify"] = self.verify
        return merged


def _json_or_empty(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_code(error: SalesforceError) -> str:
    content = error.content
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return str(content[0].get("errorCode", ""))
    return ""


def _retryable(error: Exception) -> bool:
    if isinstance(error, requests.exceptions.SSLError):
        return False  # a certificate that fails now fails the next time too
    if isinstance(error, SalesforceRefusedRequest):
        return _error_code(error) == "REQUEST_LIMIT_EXCEEDED"
    if isinstance(error, SalesforceGeneralError):
        return error.status >= 500
    return isinstance(error, RETRYABLE_TRANSPORT)


def describe(error: Exception) -> str:
    """One line: Salesforce's own errorCode and message, or the transport failure."""
    if isinstance(error, SalesforceError):
        content = error.content
        if isinstance(content, list) and content and isinstance(content[0], dict):
            first = content[0]
            return f"HTTP {error.status} {first.get('errorCode', '')}: {first.get('message', '')}"
        return f"HTTP {error.status}: {str(content)[:200]}"
    if isinstance(error, requests.exceptions.SSLError):
        return f"TLS failed (GATEWAY_SALESFORCE_CA_FILE?): {str(error)[-200:]}"
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.exceptions.ChunkedEncodingError):
        return "the connection dropped mid-response"
    if isinstance(error, requests.ConnectionError):
        return "could not connect, or the connection dropped"
    return type(error).__name__
