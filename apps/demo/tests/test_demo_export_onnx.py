"""`laanet export-onnx`: weights -> an ONNX file that `laanet predict` runs with the same scores."""

from __future__ import annotations

import json

from laanet_demo.cli import main
from laanet_demo.examples import examples_dir

EXAMPLE = examples_dir() / "portrait-img12.jpg"


def test_export_onnx_then_predict_with_it(tmp_path, capsys) -> None:
    out = tmp_path / "lite0.onnx"
    assert main(["export-onnx", "laanet-lite0-sbi-lfw", str(out)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["out"] == str(out) and out.stat().st_size == summary["bytes"]
    assert max(summary["max_abs_diff"].values()) < 1e-4
    assert main(["predict", str(EXAMPLE), "--quiet"]) == 0
    torch_csv = capsys.readouterr().out
    assert main(["predict", str(EXAMPLE), "--weights", str(out), "--quiet"]) == 0
    onnx_csv = capsys.readouterr().out
    torch_row, onnx_row = torch_csv.splitlines()[1].split(","), onnx_csv.splitlines()[1].split(",")
    assert int(torch_row[2]) >= 1 and torch_row[2] == onnx_row[2]  # same faces
    assert abs(float(torch_row[3]) - float(onnx_row[3])) < 1e-4 and torch_row[4] == onnx_row[4]


def test_export_onnx_errors_exit_2(tmp_path, capsys) -> None:
    assert main(["export-onnx", "laanet-lite0-sbi-lfw", str(tmp_path / "model.pt")]) == 2
    assert "expected a file name ending in .onnx" in capsys.readouterr().err
    assert main(["export-onnx", "no-such-weights", str(tmp_path / "m.onnx")]) == 2
    assert "cannot export 'no-such-weights'" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


def test_export_onnx_to_a_folder_is_refused_before_the_export(tmp_path, capsys) -> None:
    (tmp_path / "m.onnx").mkdir()
    assert main(["export-onnx", "laanet-lite0-sbi-lfw", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err
