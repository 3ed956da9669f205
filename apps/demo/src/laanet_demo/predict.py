"""The work of `laanet predict`: find the files, score each with the Detector, resume safely, write the results."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from laanet_synth import csvtext
from laanet_synth.atomic import write_bytes, write_text
from laanet_synth.jsonl import append_jsonl, read_jsonl
from laanet_synth.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, media_kind
from laanet_synth.messages import one_line
from laanet_synth.output_paths import file_target_problem
from laanet_synth.video import DEFAULT_MAX_VIDEO_PIXELS
from tqdm import tqdm

from laanet_demo import analysis
from laanet_demo.inference import NOT_JUDGED, PERSON_RULE, face_record, person_record, unjudged_record
from laanet_demo.limits import DemoLimits, InputRejected, OverPixelBudget

CSV_COLUMNS = ["path", "kind", "n_faces", "prob", "verdict", "n_frames", "reason", "error"]
CLI_LIMITS = DemoLimits(
    max_image_bytes=1 << 30, max_video_bytes=1 << 40, min_video_frames=1, max_video_frames=256
)
NO_FACE = {"image": "no face found", "video": "no face found in any sampled frame"}
TEXT_ENCODING = ("UTF-8; a file name that is not UTF-8 keeps its bytes in the CSV (Python's surrogateescape) and "
                 "appears in JSONL as \\udcXX escapes (os.fsencode gives the bytes back)")


class CliError(Exception):
    """A usage problem reported in one line, with exit status 2."""


@dataclass(frozen=True)
class Problem:
    """A path found while searching the inputs that cannot be scored: a folder that cannot be listed, a
    broken link. It gets a row of its own so that nothing is dropped without a word."""

    path: Path
    kind: str
    reason: str
    error: str


@dataclass(frozen=True)
class Inputs:
    """Files to score as (path, kind) and the problems met while searching the folders."""

    files: list[tuple[Path, str]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class RunIdentity:
    """What a record depends on besides the file: the weights (by sha256), their recipe and the settings."""

    weights: str
    weights_sha256: str
    recipe: dict[str, Any]
    frames: int

    def record_key(self, path: Path, kind: str) -> str:
        """A key that changes when the weights, the recipe, the settings or the file (size, mtime) change."""
        try:
            st = path.stat()
            file_id = [st.st_size, st.st_mtime_ns]
        except OSError:
            file_id = None
        body = {"weights_sha256": self.weights_sha256, "recipe": self.recipe, "kind": kind, "file": file_id,
                "frames": self.frames if kind == "video" else None}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def _walk(folder: Path) -> tuple[list[tuple[Path, str]], list[Problem]]:
    files: list[tuple[Path, str]] = []
    problems: list[Problem] = []

    def unreadable(err: OSError) -> None:
        where = Path(err.filename) if err.filename else folder
        problems.append(Problem(where, "folder", "folder not readable",
                                f"{where}: cannot list this folder ({err.strerror}); its files were not scored"))

    for dirpath, _dirs, names in os.walk(folder, onerror=unreadable):
        for name in names:
            q = Path(dirpath) / name
            k = media_kind(q)
            if k is None:
                continue
            if q.is_symlink() and not q.exists():
                problems.append(Problem(q, k, "broken link", f"{q}: broken link to {os.readlink(q)}"))
            elif q.is_file():
                files.append((q, k))
    return sorted(files), sorted(problems, key=lambda p: p.path)


def expand_inputs(paths: Iterable[str | Path]) -> Inputs:
    """Files to score: files as given (kind from the suffix), folders searched recursively.

    Folders that cannot be listed and broken links inside folders become problems (rows with a reason).
    Raises CliError for a given path that does not exist or a file whose suffix is neither image nor video.
    """
    out = Inputs()
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            items, problems = _walk(p)
            out.problems.extend(problems)
        elif p.is_file():
            k = media_kind(p)
            if k is None:
                raise CliError(
                    f"{p}: unknown file type '{p.suffix}'; expected an image ({', '.join(sorted(IMAGE_SUFFIXES))}) "
                    f"or a video ({', '.join(sorted(VIDEO_SUFFIXES))})"
                )
            items = [(p, k)]
        elif p.is_symlink():
            raise CliError(f"{p}: broken link to {os.readlink(p)}")
        else:
            raise CliError(f"{p}: no such file or folder")
        for q, k in items:
            if q not in seen:
                seen.add(q)
                out.files.append((q, k))
    return out


def _summary(path: Path, kind: str, n_faces: int | None, result: Any, detector: Any,
             n_frames: int | None) -> dict[str, Any]:
    """The CSV fields of a scored file: ``result.score`` is its score under the whole recipe (its judged faces,
    else the recipe's no-face rule, which the reason then names)."""
    bands = analysis.bands_for(detector)
    prob = result.score
    reason = None
    if result.prob is None:
        none = "no face judged" if getattr(result, "unjudged", None) else NO_FACE[kind]
        reason = NO_FACE[kind] if prob is None else f"{none}: {analysis.no_face_rule_for(detector)}"
    return {
        "path": str(path), "kind": kind, "n_faces": n_faces,
        "prob": None if prob is None else round(prob, 6),
        "verdict": None if prob is None else bands.verdict(prob),
        "n_frames": n_frames, "reason": reason, "error": None,
        "aggregation": analysis.describe_rules(detector),
    }


def not_judged_fields(prob: float | None, unjudged: Sequence[Any]) -> dict[str, Any]:
    """Record fields for faces found but not judged: the list, and when nothing was judged and the recipe's
    no-face rule gives no score (``prob`` is ``None``), the verdict "not judged" with the reason (which the CSV
    row shows)."""
    if not unjudged:
        return {}
    fields: dict[str, Any] = {"not_judged": [unjudged_record(u) for u in unjudged]}
    if prob is None:
        fields.update(verdict=NOT_JUDGED, reason=unjudged[0].reason)
    return fields


def image_record(path: Path, result: analysis.ImageAnalysis, detector: Any) -> dict[str, Any]:
    """One output record for an image: the CSV fields plus per-face detail."""
    rec = _summary(path, "image", result.n_faces_found, result, detector, None)
    rec["faces"] = [face_record(f) for f in result.faces]
    rec.update(not_judged_fields(result.score, result.unjudged))
    return rec


def video_record(path: Path, result: analysis.VideoAnalysis, detector: Any) -> dict[str, Any]:
    """One output record for a video: the CSV fields plus per-frame, per-face detail."""
    rec = _summary(path, "video", result.n_faces, result, detector, len(result.frames))
    rec["person_rule"] = PERSON_RULE
    rec["people"] = [person_record(p) for p in result.people]
    rec["frames"] = [
        {"frame": f.frame_number, "prob": None if f.prob is None else round(f.prob, 6),
         "faces": [face_record(x) for x in f.faces]}
        for f in result.frames
    ]
    rec.update(not_judged_fields(result.score, result.unjudged))
    return rec


def error_record(path: Path, kind: str, message: str, reason: str = "unreadable") -> dict[str, Any]:
    """Record for a file that could not be scored: a short `reason` and the full `error` message."""
    return {"path": str(path), "kind": kind, "n_faces": None, "prob": None, "verdict": None,
            "n_frames": None, "reason": reason, "error": message}


def _access_problem(path: Path) -> tuple[str, str] | None:
    """(reason, message) when the file cannot even be opened, else None."""
    try:
        with path.open("rb"):
            return None
    except PermissionError:
        return "permission denied", f"{path}: permission denied (the file cannot be opened for reading)"
    except FileNotFoundError:
        return "file vanished", f"{path}: the file was removed or moved before it could be read"
    except OSError as err:
        return "unreadable", f"{path}: cannot open the file ({err.strerror})"


def score_file(detector: Any, path: Path, kind: str, n_frames: int | None, limits: DemoLimits,
               max_video_pixels: int | None = DEFAULT_MAX_VIDEO_PIXELS) -> dict[str, Any]:
    """Score one file; bad input becomes an error record (with a reason) instead of an exception.
    ``max_video_pixels`` bounds the frames decoded from one video (frames x width x height)."""
    from laanet_synth.video import VideoTooLargeError

    problem = _access_problem(path)
    if problem is not None:
        return error_record(path, kind, problem[1], problem[0])
    try:
        if kind == "image":
            return image_record(path, analysis.analyse_image(detector, path, limits), detector)
        result = analysis.analyse_video(detector, path, n_frames, limits, max_pixels=max_video_pixels)
        return video_record(path, result, detector)
    except InputRejected as err:
        too_large = isinstance(err, OverPixelBudget) or isinstance(err.__cause__, VideoTooLargeError)
        return error_record(path, kind, str(err), "over the pixel budget" if too_large else "unreadable")


def csv_text(records: Sequence[dict[str, Any]]) -> str:
    """The CSV form: one row per input file, empty cells for missing values; a value holding a comma, a quote
    or a control character is quoted (:mod:`laanet_synth.csvtext`)."""
    return csvtext.csv_text(CSV_COLUMNS, ([r.get(k) for k in CSV_COLUMNS] for r in records))


def jsonl_text(records: Sequence[dict[str, Any]]) -> str:
    """The JSONL form: one full record per line."""
    return "".join(json.dumps(r, sort_keys=False) + "\n" for r in records)


def partial_path(out: Path) -> Path:
    """Where finished records are appended while a run is in progress (kept for --resume)."""
    return out.with_name(f".{out.name}.partial.jsonl")


def sidecar_path(out: Path) -> Path:
    """The JSON file written beside a CSV: which weights, recipe, bands and settings produced it."""
    return out.with_name(f"{out.name}.meta.json")


def lock_path(out: Path) -> Path:
    """The lock file held while a run writes to ``out``."""
    return out.with_name(f".{out.name}.lock")


def check_out(out: Path) -> None:
    """Refuse, before any work, an ``--out`` that cannot be written: a wrong suffix, a folder, a folder that
    cannot be created or is not writable (:func:`laanet_synth.output_paths.file_target_problem`)."""
    problem = file_target_problem(out, f"--out {out}", (".csv", ".jsonl"), create_parent=True)
    if problem is not None:
        raise CliError(problem)


@contextmanager
def out_lock(out: Path) -> Iterator[None]:
    """Hold ``out``'s lock file for the run; :class:`CliError` at once when another run holds it (two runs on one
    ``--out`` would overwrite each other's results). The lock is released and its file removed at the end."""
    try:
        import fcntl
    except ImportError:  # no POSIX locks here: nothing to hold
        yield
        return
    lock = lock_path(out)
    while True:
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as err:
            raise CliError(f"--out {out}: cannot create the lock file {lock.name} ({err.strerror})") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            raise CliError(f"--out {out}: another laanet predict run is writing there; wait for it to finish or "
                           "choose another --out") from err
        try:
            current = os.stat(lock)
        except FileNotFoundError:
            current = None
        if current is not None and os.path.samestat(os.fstat(fd), current):
            break
        os.close(fd)  # a run that finished removed this lock file after we opened it: take a fresh one
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


def load_partial(path: Path) -> dict[str, dict[str, Any]]:
    """Records of an interrupted run, by path; torn or malformed lines are skipped with a warning."""
    contents = read_jsonl(path)
    if contents.skipped_lines:
        print(f"laanet predict: {contents.skipped_message(path)}", file=sys.stderr)
    return {rec["path"]: rec for rec in contents.records if isinstance(rec, dict) and "path" in rec}


def run_identity(detector: Any, weights: str, frames: int) -> RunIdentity:
    """The identity of this run's results: weights name and sha256, recipe, verdict bands, frames."""
    from laanet_model.weights import preprocessing_to_dict

    ident = getattr(detector, "weights", None)  # set by Detector.from_weights: the file and its checked hash
    if ident is not None:
        name, sha = ident.name, ident.sha256
    else:  # a detector built in code has no file behind it
        name, sha = weights, getattr(getattr(detector, "spec", None), "sha256", None) or "unknown"
    recipe = preprocessing_to_dict(detector.preprocessing)
    recipe["thresholds"] = vars(analysis.bands_for(detector))
    return RunIdentity(name, sha, recipe, frames)


def provenance(identity: RunIdentity, args: argparse.Namespace, detector: Any) -> dict[str, Any]:
    """What the CSV sidecar says about the run."""
    from importlib.metadata import version

    return {"weights": identity.weights, "weights_sha256": identity.weights_sha256,
            "recipe": identity.recipe, "frames": identity.frames, "device": str(getattr(detector, "device", "")),
            "aggregation": analysis.describe_rules(detector), "laanet_demo_version": version("laanet-demo"),
            "created": datetime.now(UTC).isoformat(timespec="seconds"), "columns": CSV_COLUMNS,
            "max_video_pixels": getattr(args, "max_video_pixels", DEFAULT_MAX_VIDEO_PIXELS),
            "encoding": TEXT_ENCODING}


def load_detector(weights: str, device: str | None = None) -> Any:
    """The Detector for a registered weight name or a checkpoint path; failures become CliError."""
    from laanet_model.detector import Detector

    try:
        return Detector.from_weights(weights, device=device)
    except Exception as err:  # noqa: BLE001 - any load failure is one clear line
        where = f" on device {device!r}" if device else ""
        raise CliError(f"cannot load weights {weights!r}{where}: {err}") from err


def run_predict(args: argparse.Namespace, detector: Any | None = None) -> int:
    """The `predict` subcommand; returns the exit status. `detector` overrides `--weights` when given."""
    out: Path | None = args.out
    if out is not None:
        check_out(out)
    if args.frames is not None and not CLI_LIMITS.min_video_frames <= args.frames <= CLI_LIMITS.max_video_frames:
        raise CliError(
            f"--frames {args.frames}: expected {CLI_LIMITS.min_video_frames} to {CLI_LIMITS.max_video_frames}"
        )
    max_pixels = getattr(args, "max_video_pixels", DEFAULT_MAX_VIDEO_PIXELS)
    if max_pixels is not None and max_pixels < 1:
        raise CliError(f"--max-video-pixels {max_pixels}: expected a positive number of pixels")
    inputs = expand_inputs(args.paths)
    if not inputs.files and not inputs.problems:
        raise CliError("no image or video files found in the given paths")
    if out is None:
        return _predict(args, inputs, detector, None)
    with out_lock(out):
        return _predict(args, inputs, detector, out)


def _write_results(out: Path | None, text: str, sidecar: dict[str, Any] | None) -> None:
    """The results, then (for a CSV) the sidecar naming what produced them: a stale sidecar is removed first,
    so a run stopped half-way never leaves a sidecar beside results it does not describe."""
    data = csvtext.csv_bytes(text)
    if out is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    if sidecar is not None:
        sidecar_path(out).unlink(missing_ok=True)
    write_bytes(out, data)
    if sidecar is not None:
        write_text(sidecar_path(out), json.dumps(sidecar, indent=1) + "\n")


def _drop_if_empty(path: Path | None) -> None:
    try:
        if path is not None and path.stat().st_size == 0:
            path.unlink()
    except OSError:
        pass


def _predict(args: argparse.Namespace, inputs: Inputs, detector: Any | None, out: Path | None) -> int:
    if detector is None:
        detector = load_detector(args.weights, getattr(args, "device", None))
    frames = analysis.frames_for(detector, args.frames)  # --frames, else the weights' recipe
    identity = run_identity(detector, args.weights, frames)
    max_pixels = getattr(args, "max_video_pixels", DEFAULT_MAX_VIDEO_PIXELS)
    partial = partial_path(out) if out is not None else None
    done = load_partial(partial) if (partial is not None and args.resume) else {}
    if partial is not None and not args.resume:
        partial.unlink(missing_ok=True)
    stamp = {"weights": identity.weights, "weights_sha256": identity.weights_sha256}
    records: list[dict[str, Any]] = []
    redone = 0
    try:
        for path, kind in tqdm(inputs.files, desc="laanet predict", unit="file", disable=args.quiet):
            key = identity.record_key(path, kind)
            rec = done.get(str(path))
            if rec is not None and rec.get("key") != key:
                rec, redone = None, redone + 1
            if rec is None:
                rec = {**score_file(detector, path, kind, frames, CLI_LIMITS, max_pixels), **stamp, "key": key}
                if partial is not None:
                    append_jsonl(partial, rec, fsync=False)
            records.append(rec)
    except OSError as err:
        _drop_if_empty(partial)  # a full disk at the first record leaves no empty file behind
        raise CliError(f"--out {out}: cannot write there ({err.strerror})") from err
    if redone:
        print(f"laanet predict: {redone} saved record{'s were' if redone != 1 else ' was'} recomputed because "
              "the weights, the recipe, --frames or the file changed since the interrupted run", file=sys.stderr)
    records += [{**error_record(p.path, p.kind, p.error, p.reason), **stamp} for p in inputs.problems]
    for rec in records:
        rec.pop("key", None)
    as_csv = out is None or out.suffix.lower() == ".csv"
    text = csv_text(records) if as_csv else jsonl_text(records)
    sidecar = provenance(identity, args, detector) if (out is not None and as_csv) else None
    try:
        _write_results(out, text, sidecar)
    except OSError as err:
        kept = f"; every record is kept in {partial.name}: rerun the same command to write them" if partial else ""
        raise CliError(f"--out {out}: cannot write the results ({err.strerror}){kept}") from err
    if out is None:
        print(f"laanet predict: scored with {identity.weights} (sha256 {identity.weights_sha256})", file=sys.stderr)
    else:
        assert partial is not None
        partial.unlink(missing_ok=True)
    failed = [r for r in records if r.get("error")]
    for r in failed:
        print(one_line(f"laanet predict: {r['path']}: {r['error']}"), file=sys.stderr)
    return 1 if failed else 0
