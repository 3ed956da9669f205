"""Twenty concurrent gradio_client requests from a second process, on loopback: all must succeed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_twenty_concurrent_requests_from_another_process(app_url: str, portrait: Path) -> None:
    script = Path(__file__).with_name("demo_load_client.py")
    proc = subprocess.run(
        [sys.executable, str(script), app_url, str(portrait), "20"],
        capture_output=True, text=True, timeout=600,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    assert lines, f"load client printed nothing; stderr:\n{proc.stderr[-3000:]}"
    report = json.loads(lines[-1])
    assert report["errors"] == [] and report["ok"] == 20, report
    assert proc.returncode == 0
