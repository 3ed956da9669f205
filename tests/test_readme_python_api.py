"""The README's "Python API" block, run as written against the built-in weights, so that it cannot drift from
the code. Its last two lines load an official checkpoint, which is never shipped: they run when the file is
where the README says to put it, and are skipped with the reason otherwise."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
OFFICIAL_START = "model = load_checkpoint("


def python_api_block() -> str:
    """The first ```python block under the README's "## Python API" heading."""
    text = README.read_text()
    section = text.split("\n## Python API\n", 1)
    assert len(section) == 2, "README.md has no '## Python API' section"
    match = re.search(r"```python\n(.*?)```", section[1], flags=re.S)
    assert match is not None, "the README's Python API section has no python block"
    return match.group(1)


def split_block() -> tuple[str, str, str]:
    """(imports, the built-in part, the official-checkpoint part) of the block."""
    code = python_api_block()
    assert OFFICIAL_START in code, f"the Python API block no longer has the line {OFFICIAL_START!r}"
    builtin, official = code.split(OFFICIAL_START, 1)
    imports = "\n".join(line for line in builtin.splitlines() if line.startswith(("import ", "from ")))
    return imports, builtin, OFFICIAL_START + official


def test_the_python_api_block_runs_on_the_builtin_weights(shared_data: Path, tmp_path: Path, monkeypatch,
                                                         capsys) -> None:
    shutil.copy(shared_data / "faces" / "groups" / "couple.jpg", tmp_path / "photo.jpg")
    monkeypatch.chdir(tmp_path)
    _, builtin, _ = split_block()
    names: dict = {}
    exec(compile(builtin, str(README), "exec"), names)  # noqa: S102 - the README's own code, run as a user would
    result, det = names["result"], names["det"]
    assert len(result.faces) == 2, "the couple photo has two faces"
    printed = capsys.readouterr().out.splitlines()
    n = len(result.faces)
    assert len(printed) == n + 2, printed
    assert float(printed[n]) == pytest.approx(result.prob()) and float(printed[n + 1]) == pytest.approx(result.score())
    # stage by stage gives what all stages at once gave
    assert names["frame_logit"] == pytest.approx(result.frame_logit(), abs=1e-5)
    assert len(names["crops"].images) == len(names["faces"]) == 2
    assert tuple(names["hm"].shape[1:]) == (det.input_size // 4, det.input_size // 4)


def test_the_python_api_block_loads_an_official_checkpoint() -> None:
    from laanet_model import CheckpointError, get_weights
    from laanet_model.weights import resolve_weights_file

    try:
        resolve_weights_file(get_weights("laanet-official-sbi"))
    except CheckpointError as err:
        first = str(err).splitlines()[0]
        pytest.skip(f"the official checkpoint is not installed (the README's last two lines need it): {first}")
    imports, _, official = split_block()
    names: dict = {}
    exec(compile(imports + "\n" + official, str(README), "exec"), names)  # noqa: S102
    assert set(names["out"]) == {"hm", "cls", "cstency"}
