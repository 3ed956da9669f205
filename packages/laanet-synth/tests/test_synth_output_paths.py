"""The one rule for an output file given on a command line, and the one for an output folder."""

import os

from laanet_synth.output_paths import file_target_problem, folder_target_problem


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


def test_a_folder_target_is_created_only_when_asked(tmp_path):
    target = tmp_path / "a" / "b"
    assert folder_target_problem(target, "--out b") is None and not (tmp_path / "a").exists()
    assert folder_target_problem(target, "--out b", create=True) is None and target.is_dir()
    assert folder_target_problem(target, "--out b") is None  # an existing writable folder


def test_each_bad_folder_target_says_why(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for create in (False, True):
        assert folder_target_problem(blocker, "x", create=create) == "x: is a file; expected a folder"
    assert folder_target_problem(blocker / "sub", "x") == f"x: cannot create this folder ({blocker} is a file)"
    made = folder_target_problem(blocker / "sub", "x", create=True)
    assert made is not None and made.startswith("x: cannot create this folder (") and "\n" not in made
    assert blocker.read_text() == "x"


def test_an_unwritable_folder_target_names_the_folder_that_refuses(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert folder_target_problem(tmp_path, "x") == "x: the folder is not writable"
    assert folder_target_problem(tmp_path / "new" / "sub", "x") == f"x: {tmp_path} is not writable"
    assert folder_target_problem(tmp_path / "made", "x", create=True) == "x: the folder is not writable"
