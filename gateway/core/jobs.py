"""Background jobs: work a capability wants done every so often, off the request path.

Capabilities register their jobs in `init_app`; the app factory starts them all once
the app is built, and `stop` ends them (commands, the demo and tests do their own
work). Each job runs on its own daemon thread; one failed round is logged and the next
round runs as planned. Jobs that several instances may run at once must be safe to run
concurrently (the scheduler claims each change with a conditional UPDATE).

    register(app, "migration-scheduler", 30, lambda: apply_due(app))
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

from flask import Flask

log = logging.getLogger(__name__)
_JOBS = "background_jobs"
_RUNNING = "background_running"


@dataclass(frozen=True)
class Job:
    name: str
    interval: float
    work: Callable[[], object]


class Repeating:
    """A daemon thread that runs `work` every `interval` seconds until stopped."""

    def __init__(self, name: str, interval: float, work: Callable[[], object]) -> None:
        self._stop = threading.Event()
        self._interval, self._work = interval, work
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Repeating:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._work()
            except Exception:  # a background loop must outlive one bad round
                log.exception(
                    "background work failed",
                    extra={"event": "background.failed", "thread": self.thread.name},
                )


def register(app: Flask, name: str, interval: float, work: Callable[[], object]) -> None:
    """Run `work` every `interval` seconds once the app starts its jobs."""
    app.extensions.setdefault(_JOBS, []).append(Job(name, interval, work))


def registered(app: Flask) -> list[Job]:
    jobs: list[Job] = app.extensions.get(_JOBS, [])
    return list(jobs)


def start(app: Flask) -> None:
    """Start every registered job (once per app)."""
    if _RUNNING in app.extensions:
        return
    app.extensions[_RUNNING] = [
        Repeating(job.name, job.interval, job.work).start() for job in registered(app)
    ]


def stop(app: Flask) -> None:
    """Stop this app's jobs and wait for a round in progress to finish."""
    for worker in app.extensions.pop(_RUNNING, []):
        worker.stop()
