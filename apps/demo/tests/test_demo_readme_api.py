"""The API snippets of README.md and apps/demo/README.md, run as written against the real demo, so that they
cannot drift from what the endpoints return."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
READMES = [REPO / "README.md", REPO / "apps" / "demo" / "README.md"]
DEFAULT_URL = "http://127.0.0.1:7860/"


def api_snippets() -> list[tuple[str, str]]:
    """Every Python block of the READMEs that calls the demo through gradio_client: (where, code)."""
    out = []
    for readme in READMES:
        for i, block in enumerate(re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)):
            if "gradio_client" in block:
                out.append((f"{readme.relative_to(REPO)} block {i}", block))
    return out


def test_the_readmes_have_api_snippets() -> None:
    snippets = api_snippets()
    assert snippets and all(DEFAULT_URL in code for _, code in snippets)
    assert any("/predict_video" in code for _, code in snippets) and any("/predict_image" in code
                                                                      for _, code in snippets)


@pytest.mark.slow
@pytest.mark.parametrize(("where", "code"), api_snippets(), ids=[w for w, _ in api_snippets()])
def test_readme_api_snippet_runs_against_the_demo(where: str, code: str, app_url: str) -> None:
    printed = io.StringIO()
    cwd = os.getcwd()
    os.chdir(REPO)  # the snippets name example files relative to the repository root
    try:
        with contextlib.redirect_stdout(printed):
            exec(compile(code.replace(DEFAULT_URL, app_url), where, "exec"), {"__name__": "__readme__"})  # noqa: S102
    finally:
        os.chdir(cwd)
    lines = [line for line in printed.getvalue().strip().splitlines() if not line.startswith("Loaded as API")]
    assert len(lines) >= 2, f"{where} printed {printed.getvalue()!r}"
    # every printed line starts with a score in [0, 1]
    for line in lines:
        assert 0.0 <= float(line.split()[0]) <= 1.0, line
