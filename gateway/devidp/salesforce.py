"""A stand-in Salesforce on loopback that speaks the real wire protocol: the demo's
Salesforce (`gateway demo`, with the sample org below) and the tests'.

Over HTTPS (simple-salesforce builds https:// URLs only), with a self-signed
certificate made at each start. It answers:

- `POST /services/oauth2/token`: the JWT bearer grant (an RS256 assertion checked
  for iss = consumer key, sub = username, aud = login URL, exp) and client credentials;
- `GET /services/data/vNN.0/query` and `/queryAll` with the SOQL shapes the sync sends,
  2,000 records a page with `nextRecordsUrl` (a server-side snapshot, as Salesforce's
  query cursors are);
- the Bulk API 2.0 query job lifecycle: `POST /jobs/query`, `GET /jobs/query/{id}`
  (InProgress, then JobComplete), `GET /jobs/query/{id}/results` as CSV with
  `Sforce-Locator` and `Sforce-NumberOfRecords`;
- Salesforce's error bodies: `[{"message": ..., "errorCode": ...}]`.

Records live in memory; `faults` holds switches the tests flip (limit errors, 500s, a
dropped connection mid-page, stalled responses, expired sessions or query locators,
changes made at the Nth request).

For volume (bench/salesforce_sync.py: half a million records), `prerender` gives an
object's Bulk API results as CSV pages rendered once, up front: a bulk query job on
that object with those fields then serves the stored bytes, page after page, instead
of selecting and rendering records per request, so the stand-in is not what a full
load waits for. The REST query API and the records added with `add` are not affected.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import socket
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

from gateway.devidp.certificates import LoopbackCertificate

PAGE_SIZE = 2000
HOST = "127.0.0.1"

# Each object's fields, as a default org with our custom fields has them.
FIELDS: dict[str, tuple[str, ...]] = {
    "Account": ("Id", "Name", "AccountNumber", "SystemModstamp", "IsDeleted"),
    "Asset": (
        "Id",
        "AccountId",
        "Name",
        "Product2.Name",
        "Product2.ProductCode",
        "Product2.Family",
        "Quantity",
        "Unit_of_Measure__c",
        "InstallDate",
        "UsageEndDate",
        "Status",
        "SystemModstamp",
        "IsDeleted",
    ),
    "Entitlement": (
        "Id",
        "AccountId",
        "AssetId",
        "Name",
        "StartDate",
        "EndDate",
        "Status",
        "Type",
        "SystemModstamp",
        "IsDeleted",
    ),
}
ID_PREFIX = {"Account": "001", "Asset": "02i", "Entitlement": "550"}

SOQL = re.compile(
    r"SELECT\s+(?P<fields>[\w.,\s]+?)\s+FROM\s+(?P<object>\w+)"
    # SOQL's dateTime literals: to the second, with Z or an offset (no fractions).
    r"(?:\s+WHERE\s+SystemModstamp\s*>=\s*"
    r"(?P<since>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:Z|[+-]\d\d:\d\d))"
    r"(?P<deleted>\s+AND\s+IsDeleted\s*=\s*true)?)?"
    r"(?P<ordered>\s+ORDER\s+BY\s+SystemModstamp\s*,\s*Id)?\s*",
    re.IGNORECASE,
)


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class Faults:
    """Switches a test flips; each count is used up one request at a time."""

    limit_errors: int = 0  # 403 REQUEST_LIMIT_EXCEEDED
    server_errors: int = 0  # 500 UNKNOWN_EXCEPTION
    dropped_connections: int = 0  # a data page cut off half way through its body
    stalled_responses: int = 0  # held back until the client has given up waiting
    expired_query_locators: int = 0  # nextRecordsUrl answers 400 INVALID_QUERY_LOCATOR
    failed_jobs: int = 0  # Bulk query jobs that end Failed instead of JobComplete
    # After this many more API requests, every issued session expires (401).
    expire_sessions_after: int | None = None
    # Called just before the API request with that number (1 = the first) is answered.
    at_request: dict[int, Callable[[], None]] = field(default_factory=dict)


@dataclass
class Query:
    object: str
    fields: list[str]
    since: datetime | None
    deleted_only: bool


@dataclass
class BulkJob:
    id: str
    query: str
    rows: list[dict[str, Any]]
    fields: list[str]
    object: str
    polls_before_complete: int
    created: datetime
    prerendered: Prerendered | None = None

    @property
    def size(self) -> int:
        return self.prerendered.records if self.prerendered else len(self.rows)


@dataclass(frozen=True)
class Prerendered:
    """An object's Bulk results rendered once: CSV pages (header included) of
    `page_size` records each, served whatever maxRecords the client asks for."""

    fields: list[str]
    pages: list[bytes]
    page_records: list[int]
    records: int


class SalesforceStandIn:
    def __init__(
        self,
        folder: Path,
        *,
        consumer_key: str,
        username: str,
        public_key: RSAPublicKey,
        client_id: str,
        client_secret: str,
        api_version: str = "62.0",
        custom_fields: dict[str, tuple[str, ...]] | None = None,
        certificate_valid_for: timedelta = timedelta(days=1),
    ) -> None:
        self.certificate = LoopbackCertificate.create(
            folder, name="salesforce", valid_for=certificate_valid_for
        )
        self.consumer_key, self.username, self.public_key = consumer_key, username, public_key
        self.client_id, self.client_secret = client_id, client_secret
        self.api_version = api_version
        # The org's fields: the standard ones and any custom fields of this org.
        self.fields = {
            name: (*standard, *(custom_fields or {}).get(name, ()))
            for name, standard in FIELDS.items()
        }
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in FIELDS}
        self.faults = Faults()
        self.clock_offset = timedelta(0)
        self.frozen_at: datetime | None = None  # the server's clock stands still when set
        self.bulk_polls = 1  # status checks answered InProgress before JobComplete
        self.tokens: set[str] = set()
        self.tokens_issued = 0
        self.api_requests = 0
        self.requests_log: list[str] = []
        self._query_cursors: dict[str, tuple[list[dict[str, Any]], list[str], str]] = {}
        self._jobs: dict[str, BulkJob] = {}
        self._prerendered: dict[str, Prerendered] = {}
        self._lock = threading.RLock()
        self._requests_seen = threading.Condition(self._lock)
        self.release_stalled = threading.Event()
        self._counter = 0
        self._server: BaseWSGIServer | None = None
        self.url = ""

    # --- running --------------------------------------------------------------

    def start(self) -> None:
        standin = self

        class Handler(WSGIRequestHandler):
            def date_time_string(self, timestamp: float | None = None) -> str:
                # The Date header: the server's clock, which the sync's cursor comes from.
                return format_datetime(standin.now(), usegmt=True)

            def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
                pass  # the tests read requests_log

        server = make_server(
            HOST,
            0,
            self.wsgi,
            threaded=True,
            request_handler=Handler,
            ssl_context=(str(self.certificate.cert_file), str(self.certificate.key_file)),
        )
        self._server = server
        self.url = f"https://{HOST}:{server.server_port}"
        threading.Thread(target=server.serve_forever, name="salesforce", daemon=True).start()

    def stop(self) -> None:
        self.release_stalled.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def ca_file(self) -> Path:
        return self.certificate.cert_file

    def at_request(self, number: int, action: Callable[[], None]) -> None:
        """Run `action` just before answering the `number`th API request from now (1: the next)."""
        with self._lock:
            self.faults.at_request[self.api_requests + number] = action

    def wait_for_requests(self, count: int, timeout: float = 30.0) -> bool:
        """Block until `count` API requests have been answered (or begun), or time out."""
        with self._requests_seen:
            return self._requests_seen.wait_for(lambda: self.api_requests >= count, timeout)

    # --- the data -------------------------------------------------------------

    def now(self) -> datetime:
        moment = (self.frozen_at or datetime.now(UTC)) + self.clock_offset
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    def new_id(self, object_name: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{ID_PREFIX[object_name]}{self._counter:012d}AAA"

    def add(self, object_name: str, modstamp: datetime | None = None, **values: Any) -> str:
        with self._lock:
            record: dict[str, Any] = dict.fromkeys(self.fields[object_name])
            record.update(values)
            record["Id"] = record["Id"] or self.new_id(object_name)
            record["IsDeleted"] = False
            record["SystemModstamp"] = modstamp or self.now()
            self.records[object_name][record["Id"]] = record
            return str(record["Id"])

    def change(self, object_name: str, record_id: str, **values: Any) -> None:
        with self._lock:
            record = self.records[object_name][record_id]
            record.update(values)
            record["SystemModstamp"] = self.now()

    def delete(self, object_name: str, record_id: str) -> None:
        with self._lock:
            record = self.records[object_name][record_id]
            record["IsDeleted"] = True
            record["SystemModstamp"] = self.now()

    def purge(self, object_name: str, record_id: str) -> None:
        """Emptied from the recycle bin: gone, and no longer returned by queryAll."""
        with self._lock:
            del self.records[object_name][record_id]

    def prerender(
        self, object_name: str, fields: list[str], rows: Iterator[tuple[str, ...]], page_size: int
    ) -> int:
        """Render `rows` (text values in `fields` order, "" for null) as the object's Bulk
        results, once; returns how many there were. See the module's docstring."""
        pages: list[bytes] = []
        counts: list[int] = []
        out, count, total = io.StringIO(), 0, 0
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)

        def close_page() -> None:
            pages.append(out.getvalue().encode())
            counts.append(count)

        writer.writerow(fields)
        for row in rows:
            writer.writerow(row)
            count += 1
            total += 1
            if count == page_size:
                close_page()
                out.seek(0)
                out.truncate()
                count = 0
                writer.writerow(fields)
        if count or not pages:
            close_page()
        with self._lock:
            self._prerendered[object_name] = Prerendered(list(fields), pages, counts, total)
        return total

    def live(self, object_name: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.records[object_name].items() if not v["IsDeleted"]}

    # --- the protocol ---------------------------------------------------------

    def wsgi(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self._answer(Request(environ))(environ, start_response)

    def _answer(self, request: Request) -> Response:
        try:
            if request.path == "/services/oauth2/token":
                response = self._token(request)
            else:
                response = self._api(request)
        except ApiError as error:
            response = _errors(error.status, error.code, error.message)
        return response

    def _token(self, request: Request) -> Response:
        if request.method != "POST":
            return _oauth_error(405, "invalid_request", "must use HTTP POST")
        grant = request.form.get("grant_type", "")
        if grant == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            try:
                claims = jwt.decode(
                    request.form.get("assertion", ""),
                    self.public_key,
                    algorithms=["RS256"],
                    audience=self.url,
                    issuer=self.consumer_key,
                    options={"require": ["exp", "iss", "sub", "aud"]},
                )
            except jwt.PyJWTError as error:
                return _oauth_error(400, "invalid_grant", f"invalid assertion: {error}")
            if claims["sub"] != self.username:
                return _oauth_error(400, "invalid_grant", "user hasn't approved this consumer")
        elif grant == "client_credentials":
            given = (request.form.get("client_id", ""), request.form.get("client_secret", ""))
            if given != (self.client_id, self.client_secret):
                return _oauth_error(400, "invalid_client", "invalid client credentials")
        else:
            return _oauth_error(400, "unsupported_grant_type", "grant type not supported")
        token = "00D000000000001!" + secrets.token_urlsafe(32)
        with self._lock:
            self.tokens.add(token)
            self.tokens_issued += 1
        return _json(
            {
                "access_token": token,
                "scope": "api",
                "instance_url": self.url,
                "id": f"{self.url}/id/00D000000000001AAA/005000000000001AAA",
                "token_type": "Bearer",
                "issued_at": str(int(self.now().timestamp() * 1000)),
            }
        )

    def _api(self, request: Request) -> Response:
        with self._requests_seen:
            self.api_requests += 1
            number = self.api_requests
            self.requests_log.append(f"{request.method} {request.full_path}")
            self._requests_seen.notify_all()
            hook = self.faults.at_request.pop(number, None)
        if hook is not None:
            hook()
        self._authorise(request)
        faults = self.faults
        with self._lock:
            if faults.limit_errors:
                faults.limit_errors -= 1
                raise ApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
            if faults.server_errors:
                faults.server_errors -= 1
                raise ApiError(
                    500,
                    "UNKNOWN_EXCEPTION",
                    "An unexpected error occurred. Please include this ErrorId if you "
                    "contact support: 1234567890-12345 (-123456789)",
                )
            stall = faults.stalled_responses > 0
            faults.stalled_responses -= int(stall)
        if stall:
            self.release_stalled.wait(10)
        prefix = f"/services/data/v{self.api_version}"
        path = request.path.rstrip("/")  # simple-salesforce asks for query/?q=…
        if path == prefix:
            return _json({"sobjects": f"{prefix}/sobjects", "query": f"{prefix}/query"})
        if path in (f"{prefix}/query", f"{prefix}/queryAll"):
            return self._droppable(request, _json(self._query(request, all_rows="All" in path)))
        if path.startswith((f"{prefix}/query/", f"{prefix}/queryAll/")):
            return self._droppable(request, _json(self._query_more(path.rsplit("/", 1)[1])))
        if path == f"{prefix}/jobs/query" and request.method == "POST":
            return _json(self._create_job(request.get_json(force=True)))
        job = re.fullmatch(rf"{re.escape(prefix)}/jobs/query/(\w+)(/results)?", path)
        if job and request.method == "GET":
            if job.group(2):
                return self._droppable(request, self._results(job.group(1), request))
            return _json(self._job_status(job.group(1)))
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")

    def _authorise(self, request: Request) -> None:
        with self._lock:
            after = self.faults.expire_sessions_after
            if after is not None:
                if after <= 0:
                    self.tokens.clear()
                    self.faults.expire_sessions_after = None
                else:
                    self.faults.expire_sessions_after = after - 1
            header = request.headers.get("Authorization", "")
            token = header.removeprefix("Bearer ").removeprefix("OAuth ")
            if token not in self.tokens:
                raise ApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def _droppable(self, request: Request, response: Response) -> Response:
        """The response, or (fault) its first half and then a closed connection."""
        with self._lock:
            drop = self.faults.dropped_connections > 0
            self.faults.dropped_connections -= int(drop)
        if not drop:
            return response
        body = response.get_data()
        connection: socket.socket = request.environ["werkzeug.socket"]

        def half_then_hang_up() -> Iterator[bytes]:
            yield body[: len(body) // 2]
            connection.shutdown(socket.SHUT_RDWR)

        cut = Response(half_then_hang_up(), status=response.status_code)
        cut.headers.update(response.headers)
        cut.headers["Content-Length"] = str(len(body))
        return cut

    # --- REST query -------------------------------------------------------------

    def parse(self, soql: str) -> Query:
        shape = SOQL.fullmatch(soql)
        if shape is None:
            raise ApiError(400, "MALFORMED_QUERY", f"unexpected token in: {soql[:200]}")
        object_name = shape["object"]
        if object_name not in self.fields:
            raise ApiError(
                400,
                "INVALID_TYPE",
                f"sObject type '{object_name}' is not supported. If you are attempting to use "
                "a custom object, be sure to append the '__c' after the entity name.",
            )
        fields = [name.strip() for name in shape["fields"].split(",")]
        for name in fields:
            if name not in self.fields[object_name]:
                raise ApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on entity '{object_name}'. If you are attempting "
                    "to use a custom field, be sure to append the '__c' after the custom field "
                    "name.",
                )
        since = None
        if shape["since"]:
            try:
                since = datetime.fromisoformat(shape["since"])
            except ValueError:
                raise ApiError(
                    400, "MALFORMED_QUERY", f"value of filter criterion is not valid: {soql}"
                ) from None
            if since.tzinfo is None:
                raise ApiError(400, "MALFORMED_QUERY", "a datetime needs its time zone")
        return Query(object_name, fields, since, bool(shape["deleted"]))

    def select(self, query: Query, *, all_rows: bool) -> list[dict[str, Any]]:
        with self._lock:
            rows = [
                dict(record)
                for record in self.records[query.object].values()
                if (all_rows or not record["IsDeleted"])
                and (query.since is None or record["SystemModstamp"] >= query.since)
                and (not query.deleted_only or record["IsDeleted"])
            ]
        rows.sort(key=lambda record: (record["SystemModstamp"], record["Id"]))
        return rows

    def _query(self, request: Request, *, all_rows: bool) -> dict[str, Any]:
        query = self.parse(request.args.get("q", ""))
        rows = self.select(query, all_rows=all_rows)
        locator = "01g" + secrets.token_hex(6).upper()
        with self._lock:
            self._query_cursors[locator] = (rows, query.fields, query.object)
        return self._page(locator, 0, "queryAll" if all_rows else "query")

    def _query_more(self, locator_and_offset: str) -> dict[str, Any]:
        locator, _, offset = locator_and_offset.partition("-")
        with self._lock:
            expired = self.faults.expired_query_locators > 0
            self.faults.expired_query_locators -= int(expired)
            if expired:
                self._query_cursors.pop(locator, None)
            if locator not in self._query_cursors or not offset.isdigit():
                raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(locator, int(offset), "query")

    def _page(self, locator: str, offset: int, endpoint: str) -> dict[str, Any]:
        rows, fields, object_name = self._query_cursors[locator]
        page = rows[offset : offset + PAGE_SIZE]
        body: dict[str, Any] = {
            "totalSize": len(rows),
            "done": offset + PAGE_SIZE >= len(rows),
            "records": [self._as_json(object_name, row, fields) for row in page],
        }
        if not body["done"]:
            prefix = f"/services/data/v{self.api_version}/{endpoint}"
            body["nextRecordsUrl"] = f"{prefix}/{locator}-{offset + PAGE_SIZE}"
        return body

    def _as_json(self, object_name: str, row: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        url = f"/services/data/v{self.api_version}/sobjects/{object_name}/{row['Id']}"
        record: dict[str, Any] = {"attributes": {"type": object_name, "url": url}}
        for name in fields:
            if "." in name:
                relation, inner = name.split(".", 1)
                related = [k for k in self.fields[object_name] if k.startswith(relation + ".")]
                if all(row.get(k) is None for k in related):
                    record[relation] = None
                    continue
                nested = record.get(relation) or {"attributes": {"type": relation}}
                nested[inner] = _json_value(row.get(name))
                record[relation] = nested
            else:
                record[name] = _json_value(row.get(name))
        return record

    # --- Bulk API 2.0 -----------------------------------------------------------

    def _create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("operation") not in ("query", "queryAll"):
            raise ApiError(400, "INVALIDJOB", "operation must be query or queryAll")
        query = self.parse(str(body.get("query", "")))
        with self._lock:
            prerendered = self._prerendered.get(query.object)
        if prerendered is not None and prerendered.fields == query.fields:
            rows: list[dict[str, Any]] = []
        else:
            prerendered = None
            rows = self.select(query, all_rows=body["operation"] == "queryAll")
        job = BulkJob(
            id="750" + secrets.token_hex(6).upper(),
            query=str(body["query"]),
            rows=rows,
            fields=query.fields,
            object=query.object,
            polls_before_complete=self.bulk_polls,
            created=self.now(),
            prerendered=prerendered,
        )
        with self._lock:
            self._jobs[job.id] = job
        return self._job_info(job, "UploadComplete")

    def _job_status(self, job_id: str) -> dict[str, Any]:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
            job.polls_before_complete -= 1
            state = "InProgress" if job.polls_before_complete >= 0 else "JobComplete"
            if state == "JobComplete" and self.faults.failed_jobs:
                self.faults.failed_jobs -= 1
                job.polls_before_complete = 10**9  # and stays failed
                state = "Failed"
        info = self._job_info(job, state)
        if state == "Failed":
            info["errorMessage"] = "InternalServerError: the query could not be completed"
        if state == "JobComplete":
            info["numberRecordsProcessed"] = job.size
        return info

    def _job_info(self, job: BulkJob, state: str) -> dict[str, Any]:
        return {
            "id": job.id,
            "operation": "query",
            "object": job.object,
            "createdById": "005000000000001AAA",
            "createdDate": _soql_datetime(job.created),
            "systemModstamp": _soql_datetime(job.created),
            "state": state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
            "lineEnding": "LF",
            "columnDelimiter": "COMMA",
        }

    def _results(self, job_id: str, request: Request) -> Response:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
        if job.polls_before_complete >= 0:
            raise ApiError(400, "API_ERROR", "Job is not complete")
        if job.prerendered is not None:
            return _prerendered_page(job.prerendered, request.args.get("locator", ""))
        size = int(request.args.get("maxRecords", "10000"))
        locator = request.args.get("locator", "")
        offset = int(locator, 36) if locator else 0
        page = job.rows[offset : offset + size]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(job.fields)
        for row in page:
            writer.writerow([_csv_value(row.get(name)) for name in job.fields])
        following = offset + size
        response = Response(out.getvalue(), content_type="text/csv")
        response.headers["Sforce-NumberOfRecords"] = str(len(page))
        response.headers["Sforce-Locator"] = (
            _base36(following) if following < len(job.rows) else "null"
        )
        return response


def _prerendered_page(prerendered: Prerendered, locator: str) -> Response:
    """A stored page; its locator is the page's number (base 36), as opaque as Salesforce's."""
    number = int(locator, 36) if locator else 0
    if number >= len(prerendered.pages):
        raise ApiError(400, "INVALID_LOCATOR", "invalid locator")
    response = Response(prerendered.pages[number], content_type="text/csv")
    response.headers["Sforce-NumberOfRecords"] = str(prerendered.page_records[number])
    following = number + 1
    response.headers["Sforce-Locator"] = (
        _base36(following) if following < len(prerendered.pages) else "null"
    )
    return response


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def _soql_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}+0000"
    )


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return _soql_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _csv_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
            f"{value.microsecond // 1000:03d}Z"
        )
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float | Decimal):
        return str(float(value))
    return str(value)


def _json(body: Any, status: int = 200) -> Response:
    import json

    return Response(json.dumps(body), status=status, content_type="application/json")


def _errors(status: int, code: str, message: str) -> Response:
    return _json([{"message": message, "errorCode": code}], status)


def _oauth_error(status: int, error: str, description: str) -> Response:
    return _json({"error": error, "error_description": description}, status)


# --- the demo's org ---------------------------------------------------------------

DEMO_CONSUMER_KEY = "3MVG9switchyard.demo.consumer.key"
DEMO_USERNAME = "integration@vendor.example"
# The demo's sync runs every 30 s, so a change shows in the console within a minute.
DEMO_SYNC_INTERVAL_SECONDS = 30
# Where the demo's Salesforce deliberately disagrees with the license centers' exports,
# so the drift report has something to show (docs/demo.md lists them):
# Acme's NetGuard 5400 Appliance was sold for 300 endpoints, the centers hold 250;
DEMO_QUANTITIES = {"E-1001": 300.0}
# Globex's CloudVault Backup Agent was never booked in Salesforce.
DEMO_NOT_IN_SALESFORCE = frozenset({"E-2002"})
# (And, as in Salesforce, an entitlement's Status follows its dates: Umbrella's
# Insight Analytics Standard ended 10 days ago and is Expired, while the legacy
# center still lists it as active.)


@dataclass(frozen=True)
class DemoSalesforce:
    """The demo's stand-in, serving the sample org, and the JWT key the gateway signs with."""

    standin: SalesforceStandIn
    private_key_file: Path

    @classmethod
    def start(cls, folder: Path, today: date | None = None) -> DemoSalesforce:
        """A fresh certificate and JWT key pair in `folder`, the sample org, serving."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        from gateway.devidp.certificates import write_private

        folder.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        key_file = folder / "jwt-key.pem"
        write_private(
            key_file,
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        )
        standin = SalesforceStandIn(
            folder,
            consumer_key=DEMO_CONSUMER_KEY,
            username=DEMO_USERNAME,
            public_key=key.public_key(),
            # Client credentials are not the demo's flow; nobody can guess these.
            client_id=secrets.token_urlsafe(16),
            client_secret=secrets.token_urlsafe(32),
            # The demo may run for weeks; the certificate is made anew at each start.
            certificate_valid_for=timedelta(days=365),
        )
        seed_demo_org(standin, today or date.today())
        standin.start()
        return cls(standin, key_file)

    @property
    def url(self) -> str:
        return self.standin.url

    def settings(self) -> dict[str, object]:
        """The gateway's settings for this org: JWT bearer, the stand-in's certificate,
        a scheduled sync every DEMO_SYNC_INTERVAL_SECONDS."""
        return {
            "salesforce_login_url": self.standin.url,
            "salesforce_ca_file": self.standin.ca_file,
            "salesforce_consumer_key": DEMO_CONSUMER_KEY,
            "salesforce_username": DEMO_USERNAME,
            "salesforce_private_key_file": self.private_key_file,
            "salesforce_sync_interval_seconds": DEMO_SYNC_INTERVAL_SECONDS,
            "salesforce_bulk_poll_seconds": 0.5,
            "salesforce_timeout_seconds": 10.0,
        }

    def stop(self) -> None:
        self.standin.stop()


def seed_demo_org(standin: SalesforceStandIn, today: date) -> None:
    """The sample customers as Salesforce holds them: an Account per customer with
    entitlements, and an Asset and an Entitlement for each entitlement the license
    centers export (one pair when both centers hold it), with DEMO_QUANTITIES and
    DEMO_NOT_IN_SALESFORCE applied. The Entitlement's Name is the centers' number."""
    from gateway.devidp.sample import sample_rows

    rows: dict[str, dict[str, str]] = {}
    for name in ("entitlements-legacy", "entitlements-new"):
        for row in sample_rows(name, today):
            rows.setdefault(row["entitlement_id"], row)
    customers = {row["account_number"] for row in rows.values()}
    accounts = {
        row["account_number"]: standin.add(
            "Account", Name=row["name"], AccountNumber=row["account_number"]
        )
        for row in sample_rows("accounts", today)
        if row["account_number"] in customers
    }
    for number, row in sorted(rows.items()):
        if number in DEMO_NOT_IN_SALESFORCE:
            continue
        start = date.fromisoformat(row["start_date"])
        end = date.fromisoformat(row["end_date"]) if row["end_date"] else None
        account = accounts[row["account_number"]]
        asset_fields: dict[str, Any] = {
            "AccountId": account,
            "Name": row["product"],
            "Product2.Name": row["product"],
            "Product2.ProductCode": row["product"].upper().replace(" ", "-"),
            "Product2.Family": row["product_line"],
            "Quantity": DEMO_QUANTITIES.get(number, float(row["quantity"])),
            "Unit_of_Measure__c": row["unit_of_measure"],
            "InstallDate": start,
            "UsageEndDate": end,
            "Status": "Installed" if row["status"] == "active" else "Obsolete",
        }
        asset = standin.add("Asset", **asset_fields)
        standin.add(
            "Entitlement",
            AccountId=account,
            AssetId=asset,
            Name=number,
            StartDate=start,
            EndDate=end,
            Status=_entitlement_status(start, end, today),
            Type=row["kind"].title(),
        )


def _entitlement_status(start: date, end: date | None, today: date) -> str:
    """Salesforce's Entitlement.Status, which it computes from the dates."""
    if start > today:
        return "Inactive"
    return "Expired" if end is not None and end < today else "Active"
