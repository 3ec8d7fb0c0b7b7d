"""Hypothesis strategies for hostile input: any text (NUL, every plane of unicode),
huge values, base64 of anything, JSON of every shape and depth, and query strings
that mix the parameters an endpoint reads with names it never heard of."""

from __future__ import annotations

import base64
import json
from typing import Any

from hypothesis import strategies as st

# Text as a browser or a script could send it: any code point but lone surrogates
# (which no client can encode), NUL and control characters included.
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)
# Long values without making Hypothesis shrink megabytes: one character repeated.
huge_text = st.builds(
    lambda char, size: char * size,
    st.sampled_from(["A", "%", "é", "\x00", "<", "😀", "'", "\\"]),
    st.integers(2_000, 70_000),
)
tricky_text = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e309",
        "99999999999999999999999",
        "null",
        "true",
        "[]",
        "{}",
        "%00",
        "%",
        "%zz",
        "http://[::1",
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "javascript:alert(1)",
        "\x00",
        "\r\nSet-Cookie: x=1",
        "' OR 1=1 --",
        "<script>",
        "../../etc/passwd",
        "Ω≈ç√",
        "\u202e",
        "\ufeff",
    ]
)
value_text = st.one_of(any_text, tricky_text, huge_text)


def base64_of(data: st.SearchStrategy[bytes]) -> st.SearchStrategy[str]:
    return data.map(lambda raw: base64.b64encode(raw).decode())


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 5, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    value_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(any_text, inner, max_size=4)
    ),
    max_leaves=12,
)


def deep_json(depth: int) -> str:
    """A document nested `depth` levels: parsers that recurse fall over on these."""
    return "[" * depth + "]" * depth


deep_documents = st.builds(
    lambda depth, kind: deep_json(depth) if kind else '{"a":' * depth + "1" + "}" * depth,
    # Python's decoder gives up past about a thousand levels: deeper ones come first.
    st.one_of(st.sampled_from([1_500, 100_000]), st.integers(200, 20_000)),
    st.booleans(),
)


def json_objects_with(fields: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """Objects holding some of `fields` (good or bad values), some random members,
    and sometimes not an object at all."""
    known = st.fixed_dictionaries({}, optional=fields)
    extra = st.dictionaries(any_text, json_values, max_size=3)
    objects = st.builds(lambda a, b: {**b, **a}, known, extra)
    return st.one_of(objects, objects, objects, json_values)


# A request body as raw bytes, with the content type it claims.
raw_bodies = st.one_of(
    st.binary(max_size=300),
    any_text.map(str.encode),
    deep_documents.map(str.encode),
    json_values.map(lambda value: json.dumps(value).encode()),
    st.just(b'{"a": 1'),
    st.just(b'\xef\xbb\xbf{"a": 1}'),
    st.just('{"email": "\u0000@x"}'.encode()),
    st.just(b"\xff\xfe{\x00}\x00"),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/scim+json",
        "application/merge-patch+json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/plain",
        "application/json; charset=utf-16",
        "application/json; charset=bogus",
        "",
        "*/*",
    ]
)


def query_params(known: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    """Pairs for a query string: the endpoint's own names (sometimes repeated) and
    random ones, each with a hostile value."""
    names = st.one_of(st.sampled_from(known), any_text) if known else any_text
    return st.lists(st.tuples(names, value_text), max_size=6)


def header_safe(text: str) -> str:
    """`text` as a header value can carry it: latin-1, no line breaks or controls."""
    return "".join(char for char in text if char == "\t" or 0x20 <= ord(char) <= 0xFF)


def headers_of(names: list[str]) -> st.SearchStrategy[dict[str, str]]:
    """Header values a client could send (latin-1, no line breaks)."""
    header_text = st.text(
        st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
        max_size=200,
    )
    return st.dictionaries(st.sampled_from(names), header_text, max_size=len(names))
