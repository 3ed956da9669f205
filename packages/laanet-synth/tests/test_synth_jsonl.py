"""Line-atomic JSONL: a torn last line neither swallows the next record nor hides the records before it."""

from __future__ import annotations

import json

from laanet_synth.jsonl import append_jsonl, read_jsonl


def test_append_after_a_torn_line_keeps_the_new_record(tmp_path):
    path = tmp_path / "sub" / "log.jsonl"
    append_jsonl(path, {"n": 1})
    with path.open("ab") as fh:  # a writer killed half way through its line
        fh.write(b'{"n": 2, "half')
    append_jsonl(path, {"n": 3})
    got = read_jsonl(path)
    assert got.records == [{"n": 1}, {"n": 3}]
    assert got.skipped_lines == [2]
    assert "skipped 1 torn or malformed line (line 2)" in got.skipped_message(path)


def test_read_reports_nothing_for_a_clean_file_and_a_missing_one(tmp_path):
    path = tmp_path / "log.jsonl"
    for n in range(3):
        append_jsonl(path, {"n": n, "text": "é\nnewline inside"})
    assert path.read_text(encoding="utf-8").count("\n") == 3
    got = read_jsonl(path)
    assert [r["n"] for r in got.records] == [0, 1, 2] and got.skipped_lines == []
    assert got.skipped_message(path) == ""
    missing = read_jsonl(tmp_path / "none.jsonl")
    assert missing.records == [] and missing.skipped_lines == []


def test_each_record_is_one_whole_line(tmp_path):
    path = tmp_path / "log.jsonl"
    rec = {"values": list(range(2000))}
    append_jsonl(path, rec, fsync=False)
    lines = path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and json.loads(lines[0]) == rec
