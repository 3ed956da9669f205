"""Shared fixtures for the laanet-model tests: the official-layout parity recipe."""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "official_layout"


def parse_keys(path: Path) -> list[tuple[str, tuple[int, ...]]]:
    """Rows ``key<TAB>(d0, d1, ...)`` of ``keys.tsv``."""
    rows = []
    for raw in path.read_text().splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        key, shape_txt = raw.split("\t")
        dims = tuple(int(tok) for tok in shape_txt.strip().strip("()").split(",") if tok.strip())
        rows.append((key, dims))
    return rows


def fill_tensor(key: str, shape: tuple[int, ...]) -> np.ndarray:
    """Deterministic values for one key, seeded by the CRC-32 of its name."""
    gen = np.random.default_rng(zlib.crc32(key.encode()))
    if key.endswith("num_batches_tracked"):
        return np.zeros(shape, dtype=np.int64)
    if key.endswith("running_mean"):
        return gen.standard_normal(shape) * 0.1
    if key.endswith("running_var"):
        return gen.random(shape) * 0.25 + 1.0
    if len(shape) == 1:
        scale, offset = (0.1, 1.0) if key.endswith("weight") else (0.05, 0.0)
        return gen.standard_normal(shape) * scale + offset
    fan_in = int(np.prod(shape[1:]))
    return gen.standard_normal(shape) * (1.4 / np.sqrt(fan_in))


def official_state_dict() -> dict[str, np.ndarray]:
    """The parity checkpoint: every key of ``keys.tsv`` filled by :func:`fill_tensor` (float64)."""
    return {key: fill_tensor(key, shape) for key, shape in parse_keys(FIXTURES / "keys.tsv")}


def official_input() -> np.ndarray:
    """Two blocky 3x384x384 images in [-1, 1]: a 12x12 grid of 32-px cells and a 48x48 grid of 8-px cells."""
    gen = np.random.default_rng(20240617)
    coarse = np.kron(gen.uniform(-1.0, 1.0, size=(3, 12, 12)), np.ones((32, 32)))
    fine = np.kron(gen.uniform(-1.0, 1.0, size=(3, 48, 48)), np.ones((8, 8)))
    return np.stack([coarse, fine])


@pytest.fixture(scope="session")
def official_checkpoint_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An official-format checkpoint ``{'epoch', 'state_dict', 'optimizer'}`` in float64, saved with torch."""
    import torch

    sd = {k: torch.as_tensor(v) for k, v in official_state_dict().items()}
    path = tmp_path_factory.mktemp("official") / "official_layout.pth"
    torch.save({"epoch": 7, "state_dict": sd, "optimizer": {"state": {}, "param_groups": []}}, path)
    return path


@pytest.fixture(scope="session")
def official_keys() -> list[tuple[str, tuple[int, ...]]]:
    """The (key, shape) rows of the official checkpoint layout."""
    return parse_keys(FIXTURES / "keys.tsv")


@pytest.fixture(scope="session")
def parity_input() -> np.ndarray:
    """The fixed (2, 3, 384, 384) parity input batch."""
    return official_input()


@pytest.fixture(scope="session")
def expected_outputs() -> dict[str, np.ndarray]:
    """What the reference network outputs for the parity checkpoint and input (float64)."""
    with np.load(FIXTURES / "expected.npz") as z:
        return {k: z[k] for k in z.files}
