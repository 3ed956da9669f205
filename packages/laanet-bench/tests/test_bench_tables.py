"""Run records (JSONL) and the tables, ROC curves and robustness tables built from them."""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pandas as pd
import pytest
from laanet_bench.evaluation import LevelScores, make_record, scores_csv
from laanet_bench.metrics import BootstrapConfig
from laanet_bench.perturbations import Perturbation
from laanet_bench.pipeline import EvalSettings
from laanet_bench.records import RecordError, append_record, read_records
from laanet_bench.tables import render, results_table, robustness_tables, write_tables
from laanet_model.paper import PAPER_RESULTS
from laanet_synth.atomic import write_text


class Weights:
    """Only the identity fields a record takes from a scorer."""

    recipe = None

    def __init__(self, name: str, sha: str) -> None:
        self.weights_name, self.weights_sha256, self.precision = name, sha, "float32"


def scored(n: int, separation: float, seed: int) -> LevelScores:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    s = np.clip(0.5 + separation * (y - 0.5) + 0.25 * rng.standard_normal(n), 0, 1)
    return LevelScores([f"v{i}" for i in range(n)], y, s, ["" for _ in range(n)], 0)


def record(out, dataset, level, sep, seed=0, weights=("ours", "ab" * 32), perturbation=None, run="r1"):
    from laanet_bench.evaluation import RunInfo

    sc = scored(40, sep, seed)
    rel = f"scores/{run}_{dataset}_{level}.csv"
    write_text(out / rel, scores_csv(sc))
    rec = make_record(sc, level, RunInfo(dataset=dataset), Weights(*weights),
                      EvalSettings(n_frames=32, face_policy="max", tta="none", no_face="chance", perturbation=perturbation),
                      BootstrapConfig(n_boot=50), 1.0, rel, run)
    append_record(out / "records.jsonl", rec)
    return rec


def test_records_round_trip_and_survive_a_cut_line(tmp_path):
    a = record(tmp_path, "celebdf", "video", 0.4)
    b = record(tmp_path, "dfd", "frame", 0.2)
    with open(tmp_path / "records.jsonl", "a") as fh:
        fh.write('{"dataset": "cut sh')
    with pytest.warns(UserWarning, match="torn or malformed"):
        back = read_records(tmp_path)
    assert back == [a, b]
    assert {"dataset", "level", "auc", "ap", "n_real", "n_fake", "weights_sha256"} <= set(dataclasses.asdict(a))
    assert a.n_real == 20 and a.n_fake == 20 and a.face_policy == "max" and a.tta == "none"
    with pytest.raises(RecordError, match="expected a records file"):
        read_records(tmp_path / "nothing")


def test_a_torn_line_does_not_swallow_the_next_record(tmp_path):
    a = record(tmp_path, "celebdf", "video", 0.4)
    with open(tmp_path / "records.jsonl", "a") as fh:  # a run killed while writing its record
        fh.write('{"dataset": "cut sh')
    b = record(tmp_path, "dfd", "frame", 0.2)
    with pytest.warns(UserWarning, match=r"skipped 1 torn or malformed line \(line 2\)"):
        assert read_records(tmp_path) == [a, b]


def test_a_resumed_run_does_not_append_the_same_result_twice(tmp_path):
    a = record(tmp_path, "celebdf", "video", 0.4, run="r1")
    again = record(tmp_path, "celebdf", "video", 0.4, run="r2")  # same result, appended again after a kill
    assert again.run_id != a.run_id
    assert len((tmp_path / "records.jsonl").read_text().splitlines()) == 1
    other = record(tmp_path, "celebdf", "video", 0.3, run="r3")  # a different result is kept
    assert read_records(tmp_path) == [a, other]


def test_video_table_has_paper_rows_and_differences(tmp_path):
    cdf = record(tmp_path, "celebdf", "video", 0.4)
    ff = record(tmp_path, "ffpp", "video", 0.6, seed=1)
    other = record(tmp_path, "dfdc", "video", 0.3, seed=2)
    table = results_table(read_records(tmp_path), "video")
    sbi = PAPER_RESULTS["sbi"]
    assert table.loc["LAA-Net w/ SBI (paper)", "CDF AUC"] == sbi.values["CDF"]["auc"]
    assert table.loc["LAA-Net w/ BI (paper)", "CDF AP"] == PAPER_RESULTS["bi"].values["CDF"]["ap"]
    mine = f"ours ({'ab' * 4}), no flip test"
    assert table.loc[mine, "CDF AUC"] == pytest.approx(100 * cdf.auc, abs=0.006)
    assert table.loc[mine, "FF++ AUC"] == pytest.approx(100 * ff.auc, abs=0.006)
    assert table.loc[mine, "dfdc AUC"] == pytest.approx(100 * other.auc, abs=0.006)
    delta = table.loc[f"Δ {mine} − LAA-Net w/ SBI", "CDF AUC"]
    assert delta == pytest.approx(100 * cdf.auc - sbi.values["CDF"]["auc"], abs=0.011)
    assert pd.isna(table.loc["LAA-Net w/ SBI (paper)", "dfdc AUC"])


def test_frame_table_never_mixes_in_video_level_paper_rows(tmp_path):
    record(tmp_path, "celebdf", "frame", 0.4)
    table = results_table(read_records(tmp_path), "frame")
    assert not any("paper" in str(i) for i in table.index)
    assert list(table.columns) == ["CDF AUC", "CDF AP"]
    video = results_table([], "video")
    assert list(video.index) == ["LAA-Net w/ BI (paper)", "LAA-Net w/ SBI (paper)"]
    assert video.loc["LAA-Net w/ SBI (paper)", "DFW AP"] == PAPER_RESULTS["sbi"].values["DFW"]["ap"]


def test_latest_record_wins(tmp_path):
    record(tmp_path, "celebdf", "video", 0.1, run="r1")
    new = record(tmp_path, "celebdf", "video", 0.8, seed=5, run="r2")
    table = results_table(read_records(tmp_path), "video")
    assert table.loc[f"ours ({'ab' * 4}), no flip test", "CDF AUC"] == pytest.approx(100 * new.auc, abs=0.006)


def test_write_tables_in_three_formats_and_roc_png(tmp_path):
    record(tmp_path, "celebdf", "video", 0.4)
    record(tmp_path, "celebdf", "frame", 0.3)
    record(tmp_path, "dfdcp", "video", 0.5, weights=("theirs", "cd" * 32))
    written = write_tables(read_records(tmp_path), tmp_path / "tables", tmp_path)
    names = sorted(p.name for p in written)
    assert names == ["roc_frame.png", "roc_video.png", "table_frame.csv", "table_frame.md", "table_frame.tex",
                     "table_video.csv", "table_video.md", "table_video.tex"]
    assert (tmp_path / "tables" / "roc_video.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "tables" / "table_video.md").read_text()
    assert "LAA-Net w/ SBI (paper)" in md and "theirs (cdcdcdcd), no flip test" in md and "–" in md
    tex = (tmp_path / "tables" / "table_video.tex").read_text()
    assert "\\toprule" in tex and "95.40" in tex and "video-level (\\%)" in tex
    assert "Δ" not in tex and "$\\Delta$" in tex
    back = pd.read_csv(io.StringIO((tmp_path / "tables" / "table_video.csv").read_text()), index_col=0)
    assert back.loc["LAA-Net w/ SBI (paper)", "DFDC AUC"] == pytest.approx(86.94)


def test_render_rejects_unknown_format(tmp_path):
    with pytest.raises(ValueError, match="markdown, csv or latex"):
        render(pd.DataFrame({"a": [1.0]}), "html")


def test_robustness_tables_average_levels(tmp_path):
    clean = record(tmp_path, "ffpp", "video", 0.6)
    recs = [clean]
    for lv, sep in ((1, 0.5), (2, 0.3), (3, 0.1)):
        recs.append(record(tmp_path, "ffpp", "video", sep, seed=lv, perturbation=Perturbation("GB", lv)))
    summary, per_type = robustness_tables(read_records(tmp_path), "video")
    row = summary.index[0]
    assert summary.loc[row, "Clean"] == pytest.approx(100 * clean.auc, abs=0.006)
    mean = np.mean([100 * r.auc for r in recs[1:]])
    assert summary.loc[row, "GB"] == pytest.approx(mean, abs=0.006)
    assert summary.loc[row, "Avg"] == pytest.approx(mean, abs=0.006)
    gb = per_type["GB"]
    assert list(gb.columns) == ["L1 (7)", "L2 (9)", "L3 (13)", "L4 (17)", "L5 (21)", "mean"]
    assert gb.loc[row, "L2 (9)"] == pytest.approx(100 * recs[2].auc, abs=0.006)
    assert pd.isna(gb.loc[row, "L5 (21)"])
    assert recs[1].perturbation_param == 7.0
