"""The generic adapter: a CSV of ``path,label[,group]`` rows (columns found by header name, or in that order
without a header) pointing at videos, images or frame folders."""

from __future__ import annotations

import csv
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from laanet_synth.media import is_image, is_video

from .base import DatasetLayoutError, LoadOptions, MediaItem, check_missing, list_images

LABEL_WORDS = {"0": 0, "1": 1, "real": 0, "fake": 1, "pristine": 0, "original": 0}


def parse_label(value: str, where: str) -> int:
    label = LABEL_WORDS.get(value.strip().lower())
    if label is None:
        raise DatasetLayoutError(f"{where}: label {value!r} is not one of 0/1/real/fake")
    return label


GROUP_COLUMNS = ("group", "video")
NO_HEADER = ("path", "label", "group")


@dataclass(frozen=True)
class CsvRows:
    """The rows of a CSV as ``(path, label, group)``, the header read (None when the file has none: columns
    are then path, label[, group]) and the header's columns that were ignored."""

    rows: list[tuple[str, int, str]]
    header: tuple[str, ...] | None
    ignored_columns: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line saying how the columns were read."""
        if self.header is None:
            return "no header row: columns read as path, label[, group]"
        note = f"; ignored columns: {', '.join(self.ignored_columns)}" if self.ignored_columns else ""
        return f"columns read by header name ({', '.join(self.header)}){note}"


def _is_header(cells: list[str]) -> bool:
    names = [c.strip().lower() for c in cells]
    return "path" in names or "label" in names or not any(c.strip().lower() in LABEL_WORDS for c in cells[1:2])


def read_rows(csv_path: Path) -> CsvRows:
    """Rows of ``path,label[,group]``. With a header row, columns are found by name (``path``, ``label`` and
    an optional ``group`` or ``video``; other columns are ignored); without one, each row must have exactly
    2 or 3 columns. A UTF-8 byte-order mark is allowed; blank lines and ``#`` comments are skipped. Bytes that
    are not UTF-8 (a Latin-1 file, a file name that is not UTF-8) are kept as they are (``surrogateescape``), so
    a path names the file with those very bytes; a file that is not CSV text raises DatasetLayoutError."""
    if not csv_path.is_file():
        raise DatasetLayoutError(f"expected a CSV file of 'path,label[,group]' rows at {csv_path} (file not found)")
    try:
        with csv_path.open(newline="", encoding="utf-8-sig", errors="surrogateescape") as fh:
            reader = csv.reader(fh)
            lines = [(n, row) for n, row in enumerate(reader, start=1)
                     if row and "".join(row).strip() and not row[0].lstrip().startswith("#")]
    except csv.Error as exc:
        raise DatasetLayoutError(f"{csv_path}:{reader.line_num}: not CSV text ({exc}); expected "
                                 "'path,label[,group]' rows") from exc
    except OSError as exc:
        raise DatasetLayoutError(f"{csv_path}: cannot be read ({exc.strerror})") from exc
    if not lines:
        raise DatasetLayoutError(f"{csv_path} has no 'path,label[,group]' rows")
    header: tuple[str, ...] | None = None
    if _is_header(lines[0][1]):
        header = tuple(c.strip().lower() for c in lines[0][1])
        lines = lines[1:]
        for need in ("path", "label"):
            if need not in header:
                raise DatasetLayoutError(f"{csv_path}: the header {list(header)} has no {need!r} column "
                                         "(expected 'path', 'label' and optionally 'group' or 'video')")
        group_col = next((c for c in GROUP_COLUMNS if c in header), None)
        columns = [header.index("path"), header.index("label")] + ([header.index(group_col)] if group_col else [])
        ignored = tuple(c for c in header if c not in ("path", "label", group_col))
    else:
        columns, ignored = [0, 1, 2], ()
    rows = []
    for n, row in lines:
        if header is None and len(row) not in (2, 3):
            raise DatasetLayoutError(f"{csv_path}:{n}: without a header row, each row must have 2 or 3 columns "
                                     f"(path,label[,group]), got {len(row)}: {row!r}")
        if header is not None and not max(columns) < len(row) <= len(header):
            raise DatasetLayoutError(f"{csv_path}:{n}: expected {len(header)} columns as in the header, got {row!r}")
        cells = [row[c].strip() if c < len(row) else "" for c in columns]
        rows.append((cells[0], parse_label(cells[1], f"{csv_path}:{n}"), cells[2] if len(cells) > 2 else ""))
    if not rows:
        raise DatasetLayoutError(f"{csv_path} has no 'path,label[,group]' rows")
    return CsvRows(rows, header, ignored)


def load_csv(csv_path: Path, options: LoadOptions) -> list[MediaItem]:
    """The units :func:`list_csv` reads, with listed files that do not exist reported (or, with
    ``skip_missing``, dropped)."""
    return check_missing(list_csv(csv_path), options, f"CSV {csv_path.name}")


def list_csv(csv_path: Path, rows: CsvRows | None = None) -> list[MediaItem]:
    """Every unit a CSV lists, whether or not its files exist. Videos and frame folders are one unit each;
    images sharing a ``group`` form one unit (a "video"), images without a group are units of their own.
    Relative paths are resolved against the CSV's folder. ``rows`` is the file as :func:`read_rows` read it,
    when the caller already has it."""
    base = csv_path.parent
    items: list[MediaItem] = []
    groups: dict[str, list[tuple[Path, int]]] = defaultdict(list)
    seen: dict[Path, str] = {}
    for raw, label, group in (rows or read_rows(csv_path)).rows:
        rel = os.path.normpath(raw)  # imgs/r1.jpg and ./imgs/r1.jpg are one key
        path = Path(rel) if Path(rel).is_absolute() else base / rel
        same = path.resolve()  # the duplicate check also sees through links and ../
        if same in seen:
            raise DatasetLayoutError(f"{csv_path}: {raw!r} and {seen[same]!r} are the same file, listed twice")
        seen[same] = raw
        if path.is_dir():
            images = list_images(path)
            if not images:
                raise DatasetLayoutError(f"{csv_path}: folder {rel!r} holds no images")
            items.append(MediaItem(key=rel, label=label, kind="frames", paths=images, subset=group))
        elif is_video(path):
            items.append(MediaItem(key=rel, label=label, kind="video", paths=(path,), subset=group))
        elif is_image(path):
            if group:
                groups[group].append((path, label))
            else:
                items.append(MediaItem(key=rel, label=label, kind="frames", paths=(path,)))
        else:
            raise DatasetLayoutError(f"{csv_path}: {rel!r} is neither a video, an image nor a folder of images")
    for group, members in sorted(groups.items()):
        labels = {lab for _, lab in members}
        if len(labels) != 1:
            raise DatasetLayoutError(f"{csv_path}: group {group!r} mixes real and fake rows")
        items.append(MediaItem(key=f"group/{group}", label=labels.pop(), kind="frames",
                               paths=tuple(sorted(p for p, _ in members)), subset=group))
    keys = [it.key for it in items]
    if len(set(keys)) != len(keys):
        raise DatasetLayoutError(f"{csv_path}: some paths are listed twice")
    return items
