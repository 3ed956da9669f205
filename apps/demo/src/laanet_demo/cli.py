"""`laanet`: the command line of LAA-Net Studio. Arguments are parsed before the model code is imported, so
`--help` and `--version` answer at once; the work of `laanet predict` is in `laanet_demo.predict`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

EXIT_CODES = "Exit status: 0 every file scored, 1 some files could not be read, 2 usage error, 130 interrupted."
#: frames x width x height decoded from one video at most; equal to laanet_synth.video.DEFAULT_MAX_VIDEO_PIXELS
#: (a test checks), written here so that --help needs no OpenCV
DEFAULT_MAX_VIDEO_PIXELS = 500_000_000


def pixel_count(text: str) -> int:
    """A positive whole number of pixels, ``_`` allowed as a separator (``500_000_000``)."""
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of pixels, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number of pixels, got {text!r}")
    return value


def run_export_onnx(args: argparse.Namespace) -> int:
    """The `export-onnx` subcommand: weights -> ONNX file with the recipe in its metadata, checked against torch."""
    import json

    from laanet_model.checkpoints import CheckpointError
    from laanet_model.onnx_backend import OnnxExportError, OnnxModelError, export_weights_onnx
    from laanet_synth.output_paths import file_target_problem

    from laanet_demo.predict import CliError

    problem = file_target_problem(args.out, str(args.out), (".onnx",), create_parent=True)
    if problem is not None:
        raise CliError(problem)
    try:
        summary = export_weights_onnx(args.weights, args.out)
    except (CheckpointError, OnnxExportError, OnnxModelError, OSError) as err:
        raise CliError(f"cannot export {args.weights!r}: {err}") from err
    print(json.dumps(summary))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="laanet", description="LAA-Net deepfake detection from the command line.")
    p.add_argument("--version", action="version", version=f"%(prog)s {version('laanet-demo')}")
    sub = p.add_subparsers(dest="command", required=True)
    pr = sub.add_parser("predict", help="score images, videos and folders",
                        description="Score every face in images and videos (folders are searched recursively). "
                                    + EXIT_CODES)
    pr.add_argument("paths", nargs="+", help="image files, video files or folders")
    pr.add_argument("--weights", default="laanet-lite0-sbi-lfw",
                    help="registered weight name or checkpoint path (default: %(default)s)")
    pr.add_argument("--device", default=None,
                    help="torch device for the network, e.g. cpu, cuda, cuda:1 (default: cuda when present, else cpu)")
    pr.add_argument("--out", type=Path, default=None,
                    help="results.csv (one row per file, with results.csv.meta.json naming the weights) or "
                         "results.jsonl (adds per-face, per-frame detail); CSV on standard output when left out")
    pr.add_argument("--frames", type=int, default=None,
                    help="frames sampled per video (default: the weights' recipe, frames_per_video)")
    pr.add_argument("--max-video-pixels", type=pixel_count, default=DEFAULT_MAX_VIDEO_PIXELS,
                    help="the most pixels (frames x width x height) decoded from one video; a video asking for "
                         "more gets a row with reason 'over the pixel budget' and is not decoded "
                         "(default: %(default)s, about 1.5 GB of frames)")
    pr.add_argument("--no-resume", dest="resume", action="store_false",
                    help="start over instead of reusing the records of an interrupted run with the same --out "
                         "(records are reused only for the same weights, recipe, --frames and unchanged files)")
    pr.add_argument("--quiet", action="store_true", help="no progress bar")
    ex = sub.add_parser("export-onnx", help="export weights to ONNX (dynamic batch, heads cls and hm)",
                        description="Export the network at its recipe's input size to ONNX (float32, dynamic "
                                    "batch, outputs cls and hm, the recipe in the metadata), then compare the "
                                    "file's logits with torch on a random batch. Run it with "
                                    "Detector.from_weights('out.onnx') or `laanet predict --weights out.onnx`.")
    ex.add_argument("weights", help="registered weight name or checkpoint path")
    ex.add_argument("out", type=Path, help="the .onnx file to write")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Console script `laanet`."""
    args = build_parser().parse_args(argv)
    from laanet_demo.predict import CliError, run_predict

    try:
        if args.command == "predict":
            return run_predict(args)
        if args.command == "export-onnx":
            return run_export_onnx(args)
    except CliError as err:
        from laanet_synth.messages import one_line

        print(f"laanet {args.command}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = ""
        if args.command == "predict" and args.out is not None:
            kept = ": the files scored so far are kept; rerun the same command to resume"
        print(f"laanet {args.command}: interrupted{kept}", file=sys.stderr)
        return 130
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
