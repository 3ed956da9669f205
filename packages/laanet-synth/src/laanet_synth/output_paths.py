"""Whether a command can write its output where it was told to, checked before the work starts: the one rule
every command line uses for a file given as ``--out`` and the one for a folder (each command raises its own
usage error with the message)."""

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


def folder_target_problem(path: str | os.PathLike[str], label: str, create: bool = False) -> str | None:
    """``None`` when ``path`` is, or can be made, a writable folder, else a one-line reason starting with
    ``label``: a file in its place, a folder that cannot be created, one that is not writable. With ``create``
    the folder is made here; without it nothing is created (a run refused later leaves no trace), and the nearest
    existing folder above ``path`` is the one that must be writable."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        return f"{label}: is a file; expected a folder"
    if create:
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            return f"{label}: cannot create this folder ({err.strerror})"
    existing = p
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return f"{label}: cannot create this folder ({existing} is a file)"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{label}: " + ("the folder is not writable" if existing == p else f"{existing} is not writable")
    return None
