"""CSV for people's spreadsheets: every export writes through here.

A spreadsheet runs a cell that starts with `=`, `+`, `-` or `@` as a formula (and some
also after a leading tab or carriage return), so a product-line code or counter name
such as `=HYPERLINK(...)` in an export would run on IT's machine. Such text cells get a
leading apostrophe (OWASP's advice): shown as text, never evaluated. Numbers are written
as numbers; only text is touched.

    body = csv_text(["metric", "count"], [["login", 3], ["=1+1", 1]])
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralised(cell: object) -> object:
    """`cell`, with an apostrophe before text a spreadsheet would run as a formula."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def csv_text(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A whole CSV document as RFC 4180 has it, every cell neutralised. Lines end in CRLF:
    with that terminator the writer quotes a cell holding a lone CR as well as LF, which
    a strict reader would otherwise take for the end of a row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([neutralised(cell) for cell in header])
    writer.writerows([neutralised(cell) for cell in row] for row in rows)
    return out.getvalue()
