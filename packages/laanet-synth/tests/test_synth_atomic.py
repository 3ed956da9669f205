"""One atomic writer: a file is either its old content or its whole new content, never a torn mix, and no
temporary file is left behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from laanet_synth.atomic import write_atomic, write_text


def test_write_text_replaces_the_whole_file_and_creates_folders(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "r.csv"
    write_text(out, "one\n")
    write_text(out, "two\n")
    assert out.read_text() == "two\n"
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.csv"]


def test_a_failed_write_keeps_the_old_content(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    write_text(out, '{"ok": true}\n')

    def torn(fh) -> None:
        fh.write(b'{"half": ')
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        write_atomic(out, torn)
    assert out.read_text() == '{"ok": true}\n'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_a_new_file_follows_the_umask_and_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    import os

    from laanet_synth.atomic import current_umask

    old = os.umask(0o027)
    try:
        assert current_umask() == 0o027
        out = write_text(tmp_path / "r.csv", "a\n")
        assert out.stat().st_mode & 0o777 == 0o640  # not mkstemp's 0600
        out.chmod(0o604)
        write_text(out, "b\n")
        assert out.stat().st_mode & 0o777 == 0o604
    finally:
        os.umask(old)
