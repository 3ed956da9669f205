"""Line-atomic JSONL files: each record is appended with one ``write`` of one whole line, and readers skip and
report a torn line (one cut short when a process was killed while writing) instead of losing the next record."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class JsonlContents:
    """The records of a JSONL file and the 1-based numbers of the lines that were skipped (torn or not JSON)."""

    records: list[Any] = field(default_factory=list)
    skipped_lines: list[int] = field(default_factory=list)

    def skipped_message(self, path: Path | str) -> str:
        """One line naming the skipped lines, or '' when none was skipped."""
        if not self.skipped_lines:
            return ""
        shown = ", ".join(map(str, self.skipped_lines[:5])) + (", ..." if len(self.skipped_lines) > 5 else "")
        return (f"{path}: skipped {len(self.skipped_lines)} torn or malformed line"
                f"{'s' if len(self.skipped_lines) != 1 else ''} (line {shown})")


def _ends_mid_line(fd: int) -> bool:
    size = os.fstat(fd).st_size
    return size > 0 and os.pread(fd, 1, size - 1) != b"\n"


def append_jsonl(path: Path | str, record: Any, fsync: bool = True) -> None:
    """Append ``record`` as one JSON line with a single ``write`` on a file opened in append mode.

    A torn last line left by a killed writer is closed with a newline first, so it cannot swallow this record.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, allow_nan=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        if _ends_mid_line(fd):
            line = b"\n" + line
        os.write(fd, line)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path: Path | str) -> JsonlContents:
    """Every line of ``path`` that parses as JSON; blank lines are ignored, the others are reported as skipped.

    A missing file reads as empty.
    """
    path = Path(path)
    if not path.is_file():
        return JsonlContents()
    records: list[Any] = []
    skipped: list[int] = []
    with path.open("rb") as fh:
        for n, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                records.append(json.loads(raw.decode("utf-8")))
            except (UnicodeDecodeError, json.JSONDecodeError):
                skipped.append(n)
    return JsonlContents(records, skipped)
