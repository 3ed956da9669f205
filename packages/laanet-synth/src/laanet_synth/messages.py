"""Error messages on one line whatever they quote: a file name holding a newline or bytes that are not UTF-8
must neither split the message nor make printing it fail."""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(text: object) -> str:
    """``str(text)`` with control characters as ``\\r``, ``\\n``, ``\\x07``... and lone surrogates (a file name's
    bytes that are not UTF-8) as ``\\udcXX``, so that it prints as one line on any terminal."""
    out = []
    for c in str(text):
        o = ord(c)
        if o < 32 or o == 127:
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(c, f"\\x{o:02x}"))
        elif 0xD800 <= o <= 0xDFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(c)
    return "".join(out)
