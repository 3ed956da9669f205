"""The one rule for an output file given on a command line."""

import os

from laanet_synth.output_paths import file_target_problem


def test_a_writable_target_has_no_problem_and_each_bad_one_says_why(tmp_path):
    assert file_target_problem(tmp_path / "r.csv", "--out r", (".csv",)) is None
    assert file_target_problem(tmp_path / "r.txt", "--out r", (".csv", ".jsonl")) == (
        "--out r: expected a file name ending in .csv or .jsonl")
    (tmp_path / "d.csv").mkdir()
    assert file_target_problem(tmp_path / "d.csv", "x", (".csv",)) == "x: is a folder; expected a file name ending in .csv"
    missing = tmp_path / "a" / "b" / "r.csv"
    assert file_target_problem(missing, "x") == f"x: the folder {missing.parent} does not exist"
    assert file_target_problem(missing, "x", create_parent=True) is None and missing.parent.is_dir()


def test_an_unwritable_folder_is_named(tmp_path, monkeypatch):
    # os.access answers for the running user (root writes anywhere), so the check is given a refusing answer
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert file_target_problem(tmp_path / "r.csv", "x") == f"x: the folder {tmp_path} is not writable"
