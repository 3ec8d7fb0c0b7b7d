"""gunicorn's gthread worker, which stops listening as soon as it begins to stop.

gunicorn's own gthread worker, told to stop (SIGTERM), stops accepting but keeps its
listening socket open until its last in-flight request is done. Meanwhile the kernel
still completes connections into the socket's backlog, nobody takes them, and closing
the socket at the end resets every one. A proxy (deploy/nginx.conf) has already sent
its request on such a connection, so it does not try another instance for a POST (a
sign-in): a 502. The rolling-restart scenario (tests/resilience/test_instances.py) saw
this.

This worker closes its listening sockets when it stops accepting, after taking what is
already waiting in the backlog (answered as gunicorn answers a stopping worker's
requests, with Connection: close). Once the master and every worker have closed them,
a new connection is refused, which a proxy may safely try on another instance.
"""

from __future__ import annotations

from typing import Any

from gunicorn.workers import gthread  # type: ignore[import-untyped]


class ThreadWorker(gthread.ThreadWorker):  # type: ignore[misc]
    def set_accept_enabled(self, enabled: bool) -> None:
        super().set_accept_enabled(enabled)
        if enabled or self.alive:
            return  # a worker at its connection limit pauses, and goes on listening
        for listener in self.sockets:
            self._take_waiting(listener)
            listener.close()

    def _take_waiting(self, listener: Any) -> None:
        """Accept every connection already in the backlog (the listener does not block)."""
        while True:
            before = self.nr_conns
            self.accept(listener)  # EAGAIN, when none is waiting, is not an error
            if self.nr_conns == before:
                return
