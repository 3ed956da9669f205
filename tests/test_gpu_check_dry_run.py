"""The prepared GPU check (``benchmarks/gpu_check.sh``) dry-runs on the CPU with tiny sizes: every check runs
and reports, and the summary is printed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_gpu_check_dry_run_on_cpu(lfw_dir: Path) -> None:
    if shutil.which("uv") is None:
        pytest.skip("uv is not on PATH (the script runs through `uv run`)")
    env = {**os.environ, "LAANET_SHARED": str(lfw_dir.parents[1]), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--dry-run"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    results = {}
    for line in proc.stdout.splitlines():
        if line.startswith("{"):
            obj = json.loads(line)
            results[obj["check"]] = obj
    assert results["sizes"]["device"] == "cpu" and results["sizes"]["input_size"] == 64
    assert results["throughput"]["faces_per_s"] > 0 and results["throughput"]["dtype"] == "bfloat16"
    parity = results["parity"]["float32_vs_float64"]
    assert 0 < parity["cls"] < 1e-5 and 0 < parity["hm"] < 1e-5  # float32 rounding, nothing more
    assert results["synthesis"]["max_mask_difference"] == 0.0 and results["synthesis"]["cpu_pairs_per_s"] > 0
    assert results["train"]["ok"] is True and results["train"]["steps"] == 2
    summary = proc.stdout[proc.stdout.index("summary:"):]
    for words in ("faces/s", "float32 vs float64", "pairs/s", "2 DDP steps of the official SBI recipe"):
        assert words in summary


def test_gpu_check_refuses_to_run_without_a_gpu_unless_dry(capsys: pytest.CaptureFixture[str]) -> None:
    import runpy

    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present: the full check would run")
    main = runpy.run_path(str(REPO / "benchmarks" / "gpu_check.py"), run_name="gpu_check")["main"]
    with pytest.raises(SystemExit) as exc:
        main(["parity"])
    assert exc.value.code == 2 and "--dry-run" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--dry-run", "no-such-check"])
    assert "unknown checks" in capsys.readouterr().err
