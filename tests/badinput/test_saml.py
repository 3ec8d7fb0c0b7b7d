"""SAML endpoints under hostile input: the ACS with any SAMLResponse (text, base64 of
anything, a real signed response with bytes flipped, huge values) and RelayState,
the sign-in entries' query strings, single logout's messages and the metadata."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from gateway.devidp.saml_response import encode
from tests.badinput.harness import answered_safely, fuzz
from tests.badinput.strategies import (
    any_text,
    base64_of,
    huge_text,
    query_params,
    value_text,
)
from tests.saml_idp import PortalIdP, deflate_encode, logout_request_xml, logout_response_xml
from tests.world import World

SAML_PARAMS = ["SAMLResponse", "SAMLRequest", "RelayState", "SigAlg", "Signature"]
XML_SNIPPETS = [
    '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>',
    "<samlp:Response xmlns:samlp='urn:oasis:names:tc:SAML:2.0:protocol'/>",
    "<a><!-- c --></a>",
    "<a/><b/>",
    "<",
    "<?xml version='1.0' encoding='utf-16'?><a/>",
]


@dataclass(frozen=True)
class Mutation:
    """How to break a real signed response: bytes replaced, a cut, a textual edit."""

    flips: tuple[tuple[int, int], ...] = ()
    in_text: bool = True
    cut: float | None = None
    edit: tuple[str, str] | None = None

    def applied(self, document: bytes) -> bytes:
        if self.edit is not None:
            document = document.replace(self.edit[0].encode(), self.edit[1].encode(), 1)
        changed = bytearray(document)
        # In text content the document still parses, so the flip reaches the signature.
        places = text_positions(document) if self.in_text else range(len(changed))
        for position, value in self.flips:
            changed[places[position % len(places)]] = value
        if self.cut is not None:
            changed = changed[: int(len(changed) * self.cut)]
        return bytes(changed)


def text_positions(document: bytes) -> list[int]:
    """Offsets of the letters and digits between a `>` and the next `<`."""
    positions, inside = [], False
    for offset, byte in enumerate(document):
        if byte in b"<>":
            inside = byte == ord(">")
        elif inside and chr(byte).isalnum():
            positions.append(offset)
    return positions or list(range(len(document)))


EDITS = [
    ("ds:SignatureValue>", "ds:SignatureValue>AAAA"),
    ('Version="2.0"', 'Version="1.1"'),
    ("<saml:Assertion ", "<saml:Assertion><saml:Assertion "),
    ("</samlp:Response>", "</samlp:Response><x/>"),
    ("urn:oasis:names:tc:SAML:2.0:status:Success", "urn:x"),
    ("pat@ready.example", "pat@ready.example\x00"),
    ("100001", "1" * 5000),
    ('ID="', 'ID="x'),
]
mutations = st.builds(
    Mutation,
    # Mostly a letter for a letter; sometimes any byte anywhere, sometimes a cut.
    flips=st.lists(
        st.tuples(
            st.integers(0, 200_000),
            st.one_of(
                st.sampled_from(b"AZaz09"), st.sampled_from(b"+/= \"'<>&"), st.integers(0, 255)
            ),
        ),
        max_size=3,
    ).map(tuple),
    in_text=st.booleans(),
    cut=st.one_of(st.none(), st.none(), st.none(), st.floats(0, 1)),
    edit=st.one_of(st.none(), st.sampled_from(EDITS)),
)
responses = st.one_of(
    value_text,
    base64_of(st.binary(max_size=400)),
    base64_of(st.sampled_from(XML_SNIPPETS).map(str.encode)),
    any_text.map(encode),
    huge_text,
)


def signed_response(client: FlaskClient, idp: PortalIdP) -> bytes:
    """A real signed response to a request this client just started (so the binding
    cookie and InResponseTo are right and a mutation reaches the signature check)."""
    request_id = idp.start(client)
    spec = idp.spec(email="pat@ready.example", account="100001", in_response_to=request_id)
    return idp.response_xml(spec).encode()


def post_acs(
    app: Flask,
    client: FlaskClient,
    response: str | None,
    relay_state: str | None,
    extra: list[tuple[str, str]],
) -> None:
    form: list[tuple[str, str]] = list(extra)
    if response is not None:
        form.append(("SAMLResponse", response))
    if relay_state is not None:
        form.append(("RelayState", relay_state))
    answered_safely(app, lambda: client.post("/saml/acs", data=MultiDict(form)))


def test_the_acs_refuses_any_form_cleanly(app: Flask, client: FlaskClient, world: World) -> None:
    @fuzz(examples=100)
    @given(
        response=st.one_of(st.none(), responses),
        relay_state=st.one_of(st.none(), value_text),
        extra=st.one_of(st.just([]), query_params(["SAMLResponse", "RelayState", "SigAlg"])),
    )
    def acs(response: str | None, relay_state: str | None, extra: list[tuple[str, str]]) -> None:
        post_acs(app, client, response, relay_state, extra)

    acs()


def test_the_acs_refuses_a_broken_signed_response_cleanly(
    app: Flask, client: FlaskClient, idp: PortalIdP, world: World
) -> None:
    @fuzz(examples=100)
    @given(mutation=mutations, relay_state=st.one_of(st.none(), value_text))
    def acs(mutation: Mutation, relay_state: str | None) -> None:
        signed = mutation.applied(signed_response(client, idp))
        post_acs(app, client, base64.b64encode(signed).decode(), relay_state, [])

    acs()


def test_sign_in_entries_take_any_query(app: Flask, client: FlaskClient, world: World) -> None:
    @fuzz(examples=100)
    @given(
        path=st.sampled_from(["/login", "/saml/login", "/saml/metadata", "/logout"]),
        query=query_params(["next", "fresh"]),
    )
    def entry(path: str, query: list[tuple[str, str]]) -> None:
        answered_safely(app, lambda: client.get(path, query_string=MultiDict(query)))

    entry()


def test_single_logout_refuses_any_message_cleanly(
    app: Flask, client: FlaskClient, idp: PortalIdP, world: World
) -> None:
    sls_url = f"{idp.base_url}/saml/sls"
    real = [
        deflate_encode(logout_request_xml(sls_url, "portal-pat@ready.example")),
        deflate_encode(logout_response_xml(sls_url, "_unknown-request")),
    ]
    message = st.one_of(
        value_text,
        base64_of(st.binary(max_size=300)),
        st.sampled_from(real),
        st.sampled_from(XML_SNIPPETS).map(deflate_encode),
        any_text.map(deflate_encode),
        st.integers(0, 200_000).map(lambda size: deflate_encode("<a>" + "x" * size + "</a>")),
        st.sampled_from(real).map(lambda text: text[: len(text) // 2]),
        st.binary(max_size=200).map(lambda raw: base64.b64encode(raw).decode() + "=="),
    )
    params = st.lists(
        st.tuples(st.sampled_from(SAML_PARAMS), st.one_of(message, value_text)), max_size=5
    )

    @fuzz(examples=100)
    @given(method=st.sampled_from(["GET", "POST"]), query=params, junk=query_params([]))
    def sls(method: str, query: list[tuple[str, str]], junk: list[tuple[str, str]]) -> None:
        answered_safely(
            app,
            lambda: client.open("/saml/sls", method=method, query_string=MultiDict(query + junk)),
        )

    sls()
