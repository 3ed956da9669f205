"""CSV text that keeps every value whole: a field holding the delimiter, a quote or any control character
(``\\r`` and ``\\n`` included) is quoted as RFC 4180 says, so no file name can split a row in two.

File names that are not UTF-8 reach Python as lone surrogates (``surrogateescape``); :data:`ENCODING` and
:data:`ERRORS` write them back as their original bytes, so the CSV names the very file. The project's JSONL
files keep them as ``\\udcXX`` escapes (``json.dumps``), which ``os.fsencode`` turns back into the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["ENCODING", "ERRORS", "csv_cell", "csv_line", "csv_text", "csv_bytes"]

ENCODING = "utf-8"
ERRORS = "surrogateescape"


def _needs_quotes(text: str) -> bool:
    return any(c in ',"' or ord(c) < 32 or ord(c) == 127 for c in text)


def csv_cell(value: Any) -> str:
    """One field: ``None`` is empty, anything else its ``str``, quoted (quotes doubled) when it must be."""
    text = "" if value is None else str(value)
    return '"' + text.replace('"', '""') + '"' if _needs_quotes(text) else text


def csv_line(values: Iterable[Any]) -> str:
    """One row, ending in ``\\n``."""
    return ",".join(csv_cell(v) for v in values) + "\n"


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A header line and one line per row."""
    return csv_line(header) + "".join(csv_line(r) for r in rows)


def csv_bytes(text: str) -> bytes:
    """``text`` encoded for a file: UTF-8, with file names that are not UTF-8 as their own bytes."""
    return text.encode(ENCODING, ERRORS)
