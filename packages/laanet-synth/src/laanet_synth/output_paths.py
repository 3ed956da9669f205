"""Whether a command can write an output file where it was told to, checked before the work starts: the one rule
every command line uses for a file given as ``--out`` (each raises its own usage error with the message)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def file_target_problem(path: str | os.PathLike[str], label: str, suffixes: Sequence[str] = (),
                        create_parent: bool = False) -> str | None:
    """``None`` when a file can be written at ``path``, else a one-line reason starting with ``label``: a name
    without one of ``suffixes`` (lower case, when given), a folder, a parent folder that does not exist (created
    instead with ``create_parent``) or is not writable."""
    p = Path(path)
    want = "a file name" + (f" ending in {' or '.join(suffixes)}" if suffixes else "")
    if suffixes and p.suffix.lower() not in suffixes:
        return f"{label}: expected {want}"
    if p.is_dir():
        return f"{label}: is a folder; expected {want}"
    parent = p.parent if str(p.parent) else Path(".")
    if create_parent:
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            return f"{label}: cannot create the folder {parent} ({err.strerror})"
    elif not parent.is_dir():
        return f"{label}: the folder {parent} does not exist"
    if not os.access(parent, os.W_OK | os.X_OK):
        return f"{label}: the folder {parent} is not writable"
    return None
