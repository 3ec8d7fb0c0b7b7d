"""Outbound requests: redirects are refused and one deadline covers the whole answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from gateway.core.outbound import OutboundError, outbound_session

release = threading.Event()
# Set by a dripping peer once it has sent its last byte.
drip_finished = threading.Event()
DRIP_BYTES = 40


class Peer(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:1/internal")
            self.end_headers()
        elif self.path == "/drip":
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            # Sends a little, then holds the connection until the test lets go.
            self.wfile.write(b"x" * 20000)
            self.wfile.flush()
            release.wait(30)
        elif self.path in ("/drip-body", "/drip-headers"):
            # One byte at a time, each well within any per-read timeout: only a
            # deadline on the whole exchange ends this before the peer is done.
            if self.path == "/drip-headers":
                self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                for _ in range(DRIP_BYTES):
                    self.wfile.write(b"X")
                    self.wfile.flush()
                    if release.wait(0.2):
                        break
                self.wfile.write(b": y\r\nContent-Length: 0\r\n\r\n")
            else:
                self.send_response(200)
                self.send_header("Content-Length", str(DRIP_BYTES))
                self.end_headers()
                for _ in range(DRIP_BYTES):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    if release.wait(0.2):
                        break
            drip_finished.set()
        elif self.path == "/big":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"y" * 300_000)
        else:
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)


@pytest.fixture
def peer() -> Iterator[str]:
    release.clear()
    drip_finished.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Peer)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    release.set()
    server.shutdown()
    server.server_close()


def test_an_answer_is_read(peer: str) -> None:
    assert outbound_session().get(f"{peer}/ok").json() == {"ok": True}


def test_a_redirect_is_not_followed(peer: str) -> None:
    with pytest.raises(OutboundError, match="302, not followed"):
        outbound_session().get(f"{peer}/redirect")


def test_a_held_answer_ends_at_the_deadline(peer: str) -> None:
    # The peer keeps the connection open past the read timeout's reach; the
    # request fails instead of waiting for the test to release the peer.
    with pytest.raises(OutboundError):
        outbound_session(deadline_seconds=0.5).get(f"{peer}/drip")
    assert not release.is_set()


@pytest.mark.parametrize("path", ["/drip-body", "/drip-headers"])
def test_a_dripping_peer_is_cut_off_at_the_deadline(peer: str, path: str) -> None:
    # The peer needs 40 x 0.2 s to finish; every byte arrives well within a per-read
    # timeout, so the exchange ends before the peer is done only through the deadline.
    with pytest.raises(OutboundError, match="within the deadline"):
        outbound_session(deadline_seconds=1.0).get(f"{peer}{path}")
    assert not drip_finished.is_set()


def test_an_oversized_answer_is_refused(peer: str) -> None:
    with pytest.raises(OutboundError, match="larger than"):
        outbound_session(max_bytes=100_000).get(f"{peer}/big")
