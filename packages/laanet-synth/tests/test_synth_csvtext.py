"""CSV text keeps every value whole: control characters are quoted and non-UTF-8 names keep their bytes."""

from __future__ import annotations

import csv
import io
import os

from laanet_synth.csvtext import csv_bytes, csv_cell, csv_text


def test_control_characters_quotes_and_commas_are_quoted_and_read_back_whole() -> None:
    values = ["plain", "a\rb", "c\nd", 'say "hi"', "x,y", "tab\there", "bell\x07", "", None, 0.25, 3]
    text = csv_text(["v"] * len(values), [values])
    assert csv_cell("plain") == "plain" and csv_cell("a\rb") == '"a\rb"' and csv_cell(None) == ""
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert len(rows) == 2
    assert rows[1] == ["" if v is None else str(v) for v in values]


def test_a_name_that_is_not_utf8_keeps_its_bytes() -> None:
    name = os.fsdecode(b"/data/caf\xe9\r.jpg")
    data = csv_bytes(csv_text(["path"], [[name]]))
    assert data == b'path\n"/data/caf\xe9\r.jpg"\n'
    back = list(csv.reader(io.StringIO(data.decode("utf-8", "surrogateescape"), newline="")))
    assert os.fsencode(back[1][0]) == b"/data/caf\xe9\r.jpg"


def test_messages_quoting_odd_names_stay_one_printable_line() -> None:
    from laanet_synth.messages import one_line

    msg = one_line(os.fsdecode(b"caf\xe9") + "\r\nx\ty\x07: ok é")
    assert msg == "caf\\udce9\\r\\nx\\ty\\x07: ok é"
    msg.encode("utf-8")  # printable under a strict UTF-8 stream
