"""`laanet predict`: score images, videos and folders of them with the same Detector as the demo."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from laanet_synth.atomic import write_text
from laanet_synth.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, media_kind
from tqdm import tqdm

from laanet_demo import analysis
from laanet_demo.inference import face_record
from laanet_demo.limits import DemoLimits, InputRejected

CSV_COLUMNS = ["path", "kind", "n_faces", "prob", "verdict", "n_frames", "error"]
CLI_LIMITS = DemoLimits(
    max_image_bytes=1 << 30, max_video_bytes=1 << 40, min_video_frames=1, max_video_frames=256
)


class CliError(Exception):
    """A usage problem reported in one line, with exit status 2."""


def kind_of(path: Path) -> str | None:
    """"image", "video" or None, from the file suffix."""
    return media_kind(path)


def expand_inputs(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """Files to score as (path, kind): files as given (kind from the suffix), folders searched recursively.

    Raises CliError for a path that does not exist or a file whose suffix is neither image nor video.
    """
    out: list[tuple[Path, str]] = []
    seen: set[Path] = set()
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(q for q in p.rglob("*") if q.is_file() and kind_of(q) is not None)
            items = [(q, kind_of(q)) for q in found]
        elif p.is_file():
            k = kind_of(p)
            if k is None:
                raise CliError(
                    f"{p}: unknown file type '{p.suffix}'; expected an image ({', '.join(sorted(IMAGE_SUFFIXES))}) "
                    f"or a video ({', '.join(sorted(VIDEO_SUFFIXES))})"
                )
            items = [(p, k)]
        else:
            raise CliError(f"{p}: no such file or folder")
        for q, k in items:
            if q not in seen:
                seen.add(q)
                out.append((q, k))  # type: ignore[arg-type]
    return out


def image_record(path: Path, result: analysis.ImageAnalysis, detector: Any) -> dict[str, Any]:
    """One output record for an image: the CSV fields plus per-face detail."""
    bands = analysis.bands_for(detector)
    return {
        "path": str(path), "kind": "image", "n_faces": result.n_faces_found,
        "prob": None if result.prob is None else round(result.prob, 6),
        "verdict": None if result.prob is None else bands.verdict(result.prob),
        "n_frames": None, "error": None,
        "aggregation": analysis.describe_rules(detector),
        "faces": [face_record(f) for f in result.faces],
    }


def video_record(path: Path, result: analysis.VideoAnalysis, detector: Any) -> dict[str, Any]:
    """One output record for a video: the CSV fields plus per-frame, per-face detail."""
    bands = analysis.bands_for(detector)
    return {
        "path": str(path), "kind": "video", "n_faces": result.n_faces,
        "prob": None if result.prob is None else round(result.prob, 6),
        "verdict": None if result.prob is None else bands.verdict(result.prob),
        "n_frames": len(result.frames), "error": None,
        "aggregation": analysis.describe_rules(detector),
        "frames": [
            {"frame": f.frame_number, "prob": None if f.prob is None else round(f.prob, 6),
             "faces": [face_record(x) for x in f.faces]}
            for f in result.frames
        ],
    }


def error_record(path: Path, kind: str, message: str) -> dict[str, Any]:
    """Record for a file that could not be scored."""
    return {"path": str(path), "kind": kind, "n_faces": None, "prob": None, "verdict": None,
            "n_frames": None, "error": message}


def score_file(detector: Any, path: Path, kind: str, n_frames: int, limits: DemoLimits) -> dict[str, Any]:
    """Score one file; bad input becomes an error record instead of an exception."""
    try:
        if kind == "image":
            return image_record(path, analysis.analyse_image(detector, path, limits), detector)
        return video_record(path, analysis.analyse_video(detector, path, n_frames, limits), detector)
    except InputRejected as err:
        return error_record(path, kind, str(err))


def csv_text(records: Sequence[dict[str, Any]]) -> str:
    """The CSV form: one row per input file, empty cells for missing values."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in records:
        w.writerow({k: "" if r.get(k) is None else r[k] for k in CSV_COLUMNS})
    return buf.getvalue()


def jsonl_text(records: Sequence[dict[str, Any]]) -> str:
    """The JSONL form: one full record per line."""
    return "".join(json.dumps(r, sort_keys=False) + "\n" for r in records)


def write_atomic(path: Path, text: str) -> None:
    """Write text to `path` atomically (laanet_synth.atomic)."""
    write_text(path, text)


def partial_path(out: Path) -> Path:
    """Where finished records are appended while a run is in progress (kept for --resume)."""
    return out.with_name(f".{out.name}.partial.jsonl")


def load_partial(path: Path) -> dict[str, dict[str, Any]]:
    """Records of an interrupted run, by path; a torn last line is ignored."""
    done: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return done
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and "path" in rec:
            done[rec["path"]] = rec
    return done


def run_predict(args: argparse.Namespace, detector: Any | None = None) -> int:
    """The `predict` subcommand; returns the exit status. `detector` overrides `--weights` when given."""
    out: Path | None = args.out
    if out is not None and out.suffix.lower() not in (".csv", ".jsonl"):
        raise CliError(f"--out {out}: expected a file name ending in .csv or .jsonl")
    if not CLI_LIMITS.min_video_frames <= args.frames <= CLI_LIMITS.max_video_frames:
        raise CliError(
            f"--frames {args.frames}: expected {CLI_LIMITS.min_video_frames} to {CLI_LIMITS.max_video_frames}"
        )
    inputs = expand_inputs(args.paths)
    if not inputs:
        raise CliError("no image or video files found in the given paths")
    if detector is None:
        detector = load_detector(args.weights)
    limits = replace(CLI_LIMITS, default_video_frames=args.frames)
    partial = partial_path(out) if out is not None else None
    done = load_partial(partial) if (partial is not None and args.resume) else {}
    records: list[dict[str, Any]] = []
    sink = None
    if partial is not None:
        try:
            partial.parent.mkdir(parents=True, exist_ok=True)
            sink = partial.open("a", encoding="utf-8")
        except OSError as err:
            raise CliError(f"--out {out}: cannot write there ({err.strerror})") from err
    try:
        for path, kind in tqdm(inputs, desc="laanet predict", unit="file", disable=args.quiet):
            rec = done.get(str(path))
            if rec is None:
                rec = score_file(detector, path, kind, args.frames, limits)
                if sink is not None:
                    sink.write(json.dumps(rec) + "\n")
                    sink.flush()
            records.append(rec)
    finally:
        if sink is not None:
            sink.close()
    text = csv_text(records) if out is None or out.suffix.lower() == ".csv" else jsonl_text(records)
    if out is None:
        sys.stdout.write(text)
    else:
        write_atomic(out, text)
        assert partial is not None
        partial.unlink(missing_ok=True)
    failed = [r for r in records if r.get("error")]
    for r in failed:
        print(f"laanet predict: {r['path']}: {r['error']}", file=sys.stderr)
    return 1 if failed else 0


def load_detector(weights: str) -> Any:
    """The Detector for a registered weight name or a checkpoint path; failures become CliError."""
    from laanet_model.detector import Detector

    try:
        return Detector.from_weights(weights)
    except Exception as err:  # noqa: BLE001 - any load failure is one clear line
        raise CliError(f"cannot load weights {weights!r}: {err}") from err


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="laanet", description="LAA-Net deepfake detection from the command line.")
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("predict", help="score images, videos and folders",
                        description="Score every face in images and videos (folders are searched recursively). "
                                    "Exit status: 0 all scored, 1 some files could not be read, 2 usage error.")
    pr.add_argument("paths", nargs="+", help="image files, video files or folders")
    pr.add_argument("--weights", default="laanet-lite0-sbi-lfw", help="registered weight name or checkpoint path")
    pr.add_argument("--out", type=Path, default=None,
                    help="results.csv (one row per file) or results.jsonl (adds per-face, per-frame detail); "
                         "CSV on standard output when left out")
    pr.add_argument("--frames", type=int, default=32, help="frames sampled per video (default: %(default)s)")
    pr.add_argument("--no-resume", dest="resume", action="store_false",
                    help="start over instead of reusing the records of an interrupted run with the same --out")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console script `laanet`."""
    args = build_parser().parse_args(argv)
    try:
        if args.command == "predict":
            return run_predict(args)
    except CliError as err:
        print(f"laanet {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
