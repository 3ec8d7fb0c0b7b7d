"""Back-channel logout deliveries, off the request path.

Sign-out must not wait on relying parties: one slow or dead license center would
hold the user's sign-out (and a worker thread) for as long as it liked. Deliveries
go to a small pool of threads per process, which POST each logout_token with one
overall deadline and no redirects (gateway.core.outbound), retrying a few times with
doubling delays. Every failed attempt is logged, and so is giving up. The pool
lives in the process, not the request, so it needs nothing from the shared store
and behaves the same on the embedded one; a delivery still pending when the process
exits is lost (the logout_token is valid for two minutes, so a late delivery would
be refused by the relying party anyway).
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass

from gateway.core.outbound import OutboundError, outbound_session

log = logging.getLogger(__name__)

WORKERS = 4
# Deliveries waiting or in flight per process; past this, new ones are dropped (logged).
MAX_PENDING = 1000
DEADLINE_SECONDS = 5.0


@dataclass(frozen=True)
class LogoutDelivery:
    """One signed logout_token for one relying party's back-channel logout URI."""

    client_id: str
    url: str
    logout_token: str


class BackchannelSender:
    """Sends LogoutDelivery items from worker threads, with retries and backoff.

    >>> sender = BackchannelSender(attempts=4, retry_seconds=2.0)
    >>> sender.submit(LogoutDelivery("client-id", "https://rp.example/bc", token))
    """

    def __init__(
        self,
        *,
        attempts: int,
        retry_seconds: float,
        deadline_seconds: float = DEADLINE_SECONDS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.attempts = attempts
        self.retry_seconds = retry_seconds
        self.deadline_seconds = deadline_seconds
        self._slots = threading.BoundedSemaphore(max_pending)
        self._stopping = threading.Event()
        # Daemon threads: a delivery still pending (or waiting out a retry) when the
        # process exits is lost, rather than holding a worker's exit or a deploy.
        self._queue: queue.SimpleQueue[LogoutDelivery | None] = queue.SimpleQueue()
        self._started = False
        self._start_lock = threading.Lock()

    def submit(self, delivery: LogoutDelivery) -> bool:
        """Queue a delivery; False (and a log line) when too many are pending."""
        if not self._slots.acquire(blocking=False):
            log.error(
                "back-channel logout dropped: too many pending",
                extra={"event": "oidc.backchannel_logout_dropped", "client_id": delivery.client_id},
            )
            return False
        self._start_workers()
        self._queue.put(delivery)
        return True

    def deliver_now(self, delivery: LogoutDelivery) -> bool:
        """Send a delivery on this thread, retries included: for a command (or any work
        outside a request), whose process may end before a worker thread sends it."""
        self._slots.acquire()
        self._deliver(delivery)
        return True

    def shutdown(self) -> None:
        """Stop retrying and let the workers finish what they are sending."""
        self._stopping.set()
        for _ in range(WORKERS):
            self._queue.put(None)

    def _start_workers(self) -> None:
        with self._start_lock:
            if self._started:
                return
            for number in range(WORKERS):
                name = f"backchannel-logout-{number}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
            self._started = True

    def _work(self) -> None:
        while (delivery := self._queue.get()) is not None:
            self._deliver(delivery)

    def _deliver(self, delivery: LogoutDelivery) -> None:
        try:
            for attempt in range(1, self.attempts + 1):
                failure, retriable = self._send_once(delivery)
                if failure is None:
                    _log_outcome(logging.INFO, "delivered", delivery, attempt)
                    return
                _log_outcome(logging.WARNING, "attempt_failed", delivery, attempt, failure)
                if not retriable or attempt == self.attempts:
                    break
                if self._stopping.wait(self.retry_seconds * 2 ** (attempt - 1)):
                    break
            _log_outcome(logging.ERROR, "gave_up", delivery, attempt, failure)
        finally:
            self._slots.release()

    def _send_once(self, delivery: LogoutDelivery) -> tuple[str | None, bool]:
        """(None, _) on success, else (why, whether another attempt may help)."""
        try:
            with outbound_session(self.deadline_seconds) as http:
                answer = http.post(delivery.url, data={"logout_token": delivery.logout_token})
        except OutboundError as error:
            return str(error), True
        if 200 <= answer.status_code < 300:
            return None, False
        # A 4xx is the relying party refusing this token: sending it again will not help.
        retriable = answer.status_code >= 500 or answer.status_code == 429
        return f"answered {answer.status_code}", retriable


def _log_outcome(
    level: int, outcome: str, delivery: LogoutDelivery, attempt: int, error: str | None = None
) -> None:
    log.log(
        level,
        f"back-channel logout {outcome.replace('_', ' ')}",
        extra={
            "event": f"oidc.backchannel_logout_{outcome}",
            "client_id": delivery.client_id,
            "attempt": attempt,
            "error": error,
        },
    )
