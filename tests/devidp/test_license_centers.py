"""The stand-in license centers show who arrived and with which target."""

from __future__ import annotations

import pytest

from gateway.devidp.license_centers import create_license_center


@pytest.mark.parametrize(
    ("key", "name"), [("legacy", "Legacy license center"), ("new", "New license center")]
)
def test_arrival_shows_login_hint_and_target(key: str, name: str) -> None:
    client = create_license_center(key, name).test_client()
    reply = client.get(
        "/start",
        query_string={
            "login_hint": "carol@initech.example",
            "target_link_uri": "https://x.test/start?a=<b>",
            "iss": "https://sso.test",
        },
    )
    html = reply.get_data(as_text=True)
    assert reply.status_code == 200
    assert name in html and "Demo stand-in" in html
    assert "carol@initech.example" in html
    assert "https://x.test/start?a=&lt;b&gt;" in html
    assert "https://sso.test" in html


def test_nobody_arrived_yet() -> None:
    reply = create_license_center("new", "New license center").test_client().get("/")
    assert "Nobody arrived yet" in reply.get_data(as_text=True)
