"""Start-up time of each command line: ``COMMAND --help`` run as a subprocess through the installed console
script, beside a bare interpreter start (``python -c pass``) and an interpreter that imports torch and OpenCV
(what ``--help`` used to cost when the heavy imports came before the arguments were parsed), measured in the
same test so that the ratios hold on a loaded machine."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

COMMANDS = ["laanet", "laanet-demo", "laanet-bench", "laanet-synth", "laanet-train"]
#: the subcommands the README names: ``COMMAND SUBCOMMAND --help``
SUBCOMMANDS = [("laanet", "predict"), ("laanet", "export-onnx"), ("laanet-bench", "evaluate"),
               ("laanet-bench", "table"), ("laanet-bench", "robustness"), ("laanet-bench", "datasets"),
               ("laanet-synth", "preprocess"), ("laanet-synth", "contact-sheet")]
BIN = Path(sys.executable).parent


def _run(argv: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=300)
    return time.perf_counter() - t0


def _median(argv: list[str], rounds: int) -> float:
    return statistics.median(_run(argv) for _ in range(rounds))


@pytest.fixture(scope="module")
def references() -> dict[str, float]:
    """Median seconds of a bare interpreter and of one that imports torch and cv2."""
    return {"python -c pass": _median([sys.executable, "-c", "pass"], 5),
            "python -c 'import torch, cv2'": _median([sys.executable, "-c", "import torch, cv2"], 3)}


@pytest.mark.parametrize("command", COMMANDS)
def test_bench_help_start_up(benchmark, command: str, references: dict[str, float]) -> None:
    argv = [str(BIN / command), "--help"]
    _run(argv)  # warm the file cache
    benchmark.pedantic(_run, args=(argv,), rounds=5, iterations=1)
    median = benchmark.stats.stats.median
    bare = _median([sys.executable, "-c", "pass"], 3)  # again beside this command, for the ratio
    benchmark.extra_info.update({
        "command": f"{command} --help", "median_s": round(median, 3), "bare_python_s": round(bare, 3),
        "ratio_to_bare_python": round(median / bare, 2),
        "heavy_imports_s": round(references["python -c 'import torch, cv2'"], 3),
        "ratio_to_heavy_imports": round(median / references["python -c 'import torch, cv2'"], 3),
    })
    assert median > 0


@pytest.mark.parametrize(("command", "sub"), SUBCOMMANDS)
def test_bench_subcommand_help_start_up(benchmark, command: str, sub: str, references: dict[str, float]) -> None:
    argv = [str(BIN / command), sub, "--help"]
    _run(argv)
    benchmark.pedantic(_run, args=(argv,), rounds=5, iterations=1)
    median = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "command": f"{command} {sub} --help", "median_s": round(median, 3),
        "under_one_second": median < 1.0,
        "ratio_to_heavy_imports": round(median / references["python -c 'import torch, cv2'"], 3),
    })
    assert median > 0


@pytest.mark.parametrize("command", COMMANDS)
def test_bench_version_start_up(benchmark, command: str) -> None:
    argv = [str(BIN / command), "--version"]
    _run(argv)
    benchmark.pedantic(_run, args=(argv,), rounds=5, iterations=1)
    benchmark.extra_info.update({"command": f"{command} --version",
                                 "median_s": round(benchmark.stats.stats.median, 3)})
