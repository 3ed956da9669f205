"""Tables built from run records only: one per level, with the paper's rows and our difference to them,
written as markdown, CSV and LaTeX; ROC curves drawn from the scores files the records point at."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from laanet_model.paper import OFFICIAL_FRAMES_PER_VIDEO, PAPER_COLUMNS, PAPER_RESULTS
from laanet_synth.atomic import write_bytes, write_text
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from tabulate import tabulate

from .datasets import DATASETS
from .metrics import roc_curve
from .perturbations import PERTURBATIONS
from .records import RunRecord

TABLE_METRICS = ("auc", "ap")


def dataset_column(record: RunRecord) -> str:
    """The table column of a record: the paper's column name where there is one, else the dataset name."""
    spec = DATASETS.get(record.dataset)
    column = spec.paper_column if spec and spec.paper_column else record.dataset
    if record.compression and record.dataset in ("ffpp", "dfd") and record.compression != "raw":
        column = f"{column} {record.compression}"
    return column


def row_label(record: RunRecord) -> str:
    """``weights (sha8)`` plus the settings that differ from the official protocol (max over faces, flip test,
    the official frame count)."""
    parts = [f"{record.weights} ({record.weights_sha256[:8]})"]
    if record.face_policy != "max":
        parts.append(f"{record.face_policy} face")
    if record.tta != "flip":
        parts.append("no flip test" if record.tta == "none" else f"TTA {record.tta}")
    if record.n_frames != OFFICIAL_FRAMES_PER_VIDEO:
        parts.append(f"{record.n_frames} frames")
    return ", ".join(parts)


def latest(records: Iterable[RunRecord]) -> list[RunRecord]:
    """Keep the most recent record per (row, dataset column, level, perturbation, level of it)."""
    chosen: dict[tuple, RunRecord] = {}
    for rec in records:
        key = (row_label(rec), dataset_column(rec), rec.split, rec.level, rec.subset, rec.perturbation,
               rec.perturbation_level)
        if key not in chosen or rec.created >= chosen[key].created:
            chosen[key] = rec
    return list(chosen.values())


def results_table(records: Sequence[RunRecord], level: str, metrics: Sequence[str] = TABLE_METRICS,
                  paper_rows: Sequence[str] = ("bi", "sbi")) -> pd.DataFrame:
    """Clean (unperturbed, whole-dataset) results at ``level`` in %: at video level the paper's rows and
    columns first, then ours, then our difference to each paper row where both have a value; the paper
    reports no frame-level numbers, so the frame-level table holds ours only."""
    ours = [r for r in latest(records) if r.level == level and r.perturbation == "none" and r.subset == "all"]
    papers = [PAPER_RESULTS[p] for p in paper_rows if PAPER_RESULTS[p].level == level]
    columns = [c for c in PAPER_COLUMNS if papers or any(dataset_column(r) == c for r in ours)]
    columns += sorted({dataset_column(r) for r in ours} - set(columns))
    cols = [f"{c} {m.upper()}" for c in columns for m in metrics]
    rows: dict[str, dict[str, float]] = {}
    for paper in papers:
        rows[paper.label] = {f"{c} {m.upper()}": paper.values[c][m] for c in columns for m in metrics
                             if c in paper.values and m in paper.values[c]}
    mine: dict[str, dict[str, float]] = {}
    notes: dict[tuple[str, str], str] = {}
    footnotes: list[str] = []
    for rec in sorted(ours, key=lambda r: (row_label(r), r.created)):
        row = mine.setdefault(row_label(rec), {})
        for m in metrics:
            row[f"{dataset_column(rec)} {m.upper()}"] = 100.0 * float(getattr(rec, m))
            if rec.partial:
                notes[(row_label(rec), f"{dataset_column(rec)} {m.upper()}")] = coverage_note(rec)
        if rec.partial:
            footnotes.append(f"{row_label(rec)} · {dataset_column(rec)}: {coverage_reason(rec)}")
    rows.update(mine)
    for label, row in mine.items():
        for paper in papers:
            short = paper.label.replace(" (paper)", "")
            diff = {c: row[c] - rows[paper.label][c] for c in row if c in rows[paper.label]}
            if diff:
                rows[f"Δ {label} − {short}"] = diff
    frame = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=cols)
    frame.index.name = f"{level}-level (%)"
    frame = frame.round(2)
    frame.attrs = {"notes": notes, "footnotes": footnotes}
    return frame


def coverage_unit(record: RunRecord) -> str:
    """What the items of a record are called in tables."""
    return "items" if record.layout == "csv" else "videos"


def coverage_note(record: RunRecord) -> str:
    """The mark of a partial result beside its value, e.g. ``7/140 videos``."""
    return f"{record.n_scored}/{record.n_expected} {coverage_unit(record)}"


def coverage_reason(record: RunRecord) -> str:
    """Why a result is partial, e.g. ``7 of 140 videos scored (files missing: 133)``."""
    why = ", ".join(f"{reason}: {n}" for reason, n in record.missing.items()) or "reason not recorded"
    return f"{record.n_scored} of {record.n_expected} {coverage_unit(record)} scored ({why})"


TEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
               "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
               "Δ": r"$\Delta$", "−": r"$-$", "–": "--", "·": r"$\cdot$"}


def tex_escape(text: str) -> str:
    """Escape LaTeX specials (and the few non-ASCII signs the tables use)."""
    return "".join(TEX_ESCAPES.get(ch, ch) for ch in str(text))


def _cell(frame: pd.DataFrame, idx: object, col: object, value: float) -> str:
    if pd.isna(value):
        return "–"
    note = frame.attrs.get("notes", {}).get((idx, col))
    return f"{value:.2f} ({note})" if note else f"{value:.2f}"


def _cells(frame: pd.DataFrame) -> list[list[str]]:
    return [[str(idx)] + [_cell(frame, idx, col, v) for col, v in zip(frame.columns, row, strict=True)]
            for idx, row in zip(frame.index, frame.to_numpy(dtype=float), strict=True)]


def render(frame: pd.DataFrame, fmt: str) -> str:
    """``frame`` as ``markdown``, ``csv`` or ``latex`` (booktabs) text; missing values are '–'. Partial results
    (``frame.attrs["notes"]``) are marked in their cells and explained below the table (``footnotes``)."""
    footnotes = [f"Partial: {f}" for f in frame.attrs.get("footnotes", [])]
    if fmt == "csv":
        shown = frame.astype(object)
        for (idx, col), note in frame.attrs.get("notes", {}).items():
            if idx in shown.index and col in shown.columns and not pd.isna(frame.at[idx, col]):
                shown.at[idx, col] = f"{frame.at[idx, col]:.2f} ({note})"
        return shown.to_csv()
    headers = [frame.index.name or ""] + [str(c) for c in frame.columns]
    rows = _cells(frame)
    if fmt == "markdown":
        table = tabulate(rows, headers=headers, tablefmt="github", disable_numparse=True,
                         colalign=("left",) + ("right",) * len(frame.columns)) + "\n"
        return table + "".join(f"\n{f}\n" for f in footnotes)
    if fmt == "latex":
        lines = [r"\begin{tabular}{l" + "r" * len(frame.columns) + "}", r"\toprule",
                 " & ".join(tex_escape(h) for h in headers) + r" \\", r"\midrule"]
        lines += [" & ".join(tex_escape(c) for c in row) + r" \\" for row in rows]
        lines += [r"\bottomrule", r"\end{tabular}"]
        lines += [tex_escape(f) + r"\par" for f in footnotes]
        return "\n".join(lines) + "\n"
    raise ValueError(f"format must be markdown, csv or latex, got {fmt!r}")


def load_scores(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``(labels, scores)`` from a scores CSV written by the pipeline (``key,label,score,...``)."""
    with Path(path).open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
        rows = list(csv.DictReader(fh))
    return (np.array([int(r["label"]) for r in rows], dtype=np.int64),
            np.array([float(r["score"]) for r in rows], dtype=np.float64))


def roc_figure(records: Sequence[RunRecord], base: Path, level: str) -> bytes | None:
    """A PNG of the ROC curves of the clean records at ``level`` (``None`` if there is none to draw)."""
    chosen = [r for r in latest(records) if r.level == level and r.perturbation == "none" and r.subset == "all"
              and r.scores_file and (base / r.scores_file).is_file()]
    if not chosen:
        return None
    fig = Figure(figsize=(6, 6), dpi=100)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    for rec in sorted(chosen, key=lambda r: (dataset_column(r), row_label(r))):
        y, s = load_scores(base / rec.scores_file)
        if y.min() == y.max():
            continue
        fpr, tpr, _ = roc_curve(y, s)
        ax.plot(fpr, tpr, label=f"{dataset_column(rec)}: {row_label(rec)} (AUC {100 * rec.auc:.2f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title(f"ROC, {level} level")
    ax.legend(loc="lower right", fontsize=7)
    canvas.draw()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def write_tables(records: Sequence[RunRecord], out_dir: Path, base: Path,
                 levels: Sequence[str] = ("frame", "video")) -> list[Path]:
    """Write ``table_<level>.{md,csv,tex}`` and ``roc_<level>.png`` for each level that has records."""
    out_dir = Path(out_dir)
    written = []
    for level in levels:
        if not any(r.level == level for r in records):
            continue
        frame = results_table(records, level)
        for fmt, ext in (("markdown", "md"), ("csv", "csv"), ("latex", "tex")):
            path = out_dir / f"table_{level}.{ext}"
            write_text(path, render(frame, fmt))
            written.append(path)
        png = roc_figure(records, base, level)
        if png is not None:
            path = out_dir / f"roc_{level}.png"
            write_bytes(path, png)
            written.append(path)
    return written


def robustness_tables(records: Sequence[RunRecord], level: str = "video", metric: str = "auc"
                      ) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The summary (``Clean``, each perturbation averaged over its levels, ``Avg``) and one per-level table
    per perturbation type, in %; rows are weights (and dataset when several were evaluated)."""
    chosen = [r for r in latest(records) if r.level == level and r.subset == "all"]
    def row_of(r: RunRecord) -> str:
        return f"{row_label(r)} · {dataset_column(r)}"

    clean = {row_of(r): 100.0 * getattr(r, metric) for r in chosen if r.perturbation == "none"}
    per_type: dict[str, pd.DataFrame] = {}
    summary: dict[str, dict[str, float]] = {row: {"Clean": v} for row, v in clean.items()}
    for name, spec in PERTURBATIONS.items():
        recs = [r for r in chosen if r.perturbation == name]
        if not recs:
            continue
        table: dict[str, dict[str, float]] = {}
        for r in recs:
            param = spec.levels[r.perturbation_level - 1]
            table.setdefault(row_of(r), {})[f"L{r.perturbation_level} ({param:g})"] = 100.0 * getattr(r, metric)
        cols = [f"L{i + 1} ({p:g})" for i, p in enumerate(spec.levels)]
        frame = pd.DataFrame.from_dict(table, orient="index").reindex(columns=cols)
        frame["mean"] = frame.mean(axis=1, skipna=True)
        frame.index.name = f"{spec.title}, {level}-level {metric.upper()} (%)"
        per_type[name] = frame.round(2)
        for row, value in frame["mean"].items():
            summary.setdefault(row, {})[name] = float(value)
    frame = pd.DataFrame.from_dict(summary, orient="index")
    order = ["Clean"] + [n for n in PERTURBATIONS if n in frame.columns]
    frame = frame.reindex(columns=order)
    types = [n for n in order if n != "Clean"]
    if types:
        frame["Avg"] = frame[types].mean(axis=1, skipna=True)
    frame.index.name = f"robustness, {level}-level {metric.upper()} (%)"
    return frame.round(2), per_type
