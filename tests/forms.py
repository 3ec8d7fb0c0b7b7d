"""Reading the CSRF token out of a rendered page, as a browser's form would send it."""

from __future__ import annotations

import re

_TOKEN = re.compile(r'name="csrf_token"[^>]*\svalue="([^"]+)"')


def csrf_token(html: str) -> str:
    """The page's CSRF token; fails the test when the page has none."""
    found = _TOKEN.search(html)
    assert found, html[:500]
    return found.group(1)
