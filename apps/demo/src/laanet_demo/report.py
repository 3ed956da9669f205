"""The downloadable report of one analysis: a JSON file with every number, the weights' name and sha256."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPORT_FORMAT = 1


def report_record(details: dict[str, Any], input_name: str | None) -> dict[str, Any]:
    """The report: the analysis details with the weights' name and sha256 lifted to the top."""
    model = details.get("model") or {}
    return {
        "report": "LAA-Net analysis",
        "format": REPORT_FORMAT,
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "input": input_name,
        "weights": {"name": model.get("name"), "sha256": model.get("sha256")},
        **details,
    }


def write_report(folder: Path, record: dict[str, Any], stem: str) -> Path:
    """Write `record` as `<stem>-<unique>.json` in `folder`, atomically; returns the path."""
    from laanet_synth.atomic import write_text

    target = folder / f"{stem}-{uuid.uuid4().hex[:12]}.json"
    return write_text(target, json.dumps(record, indent=2, ensure_ascii=False) + "\n")
