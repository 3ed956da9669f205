"""laanet-bench: evaluate weights on datasets, build tables from records, run robustness sweeps.

Arguments are parsed before the evaluation code is imported, so --help and --version answer at once."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path

from .datasets import DATASETS

EXIT_CODES = "Exit status: 0 done, 2 bad input or usage (one line on standard error)."
PERTURBATION_TYPES = "CS,CC,BW,GNC,GB,PX,VC,JPEG"


def _add_input_args(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", choices=sorted(DATASETS), help="a dataset in its published layout")
    src.add_argument("--csv", type=Path,
                     help="a CSV with a header naming 'path', 'label' (1 = fake) and optionally 'group' or "
                          "'video' (other columns are ignored), or without a header 2 or 3 columns in that order")
    p.add_argument("--root", type=Path, help="dataset root folder (needed with --dataset)")
    p.add_argument("--split", default="test", help="dataset split to evaluate (default: %(default)s)")
    p.add_argument("--compression", default="c23", choices=("raw", "c23", "c40"),
                   help="FF++ / DFD quality (default: %(default)s)")
    p.add_argument("--methods", default="",
                   help="comma-separated FF++ manipulations (default: all four)")
    p.add_argument("--layout", default="published", choices=("published", "official-frames"),
                   help="the dataset as downloaded, or the official LAA-Net ROOT/<split>/frames/<TYPE>/<video>/ "
                        "(default: %(default)s)")
    p.add_argument("--skip-missing", action="store_true",
                   help="evaluate the rest when listed files are missing (the records and tables say how many)")
    p.add_argument("--pre-cropped", action="store_true", help="the images are face crops already (no detection)")
    p.add_argument("--limit", type=int, default=0,
                   help="evaluate at most N items, balanced real/fake; 0 = all (default: %(default)s)")
    p.add_argument("--weights", required=True, help="a registered weights name or a checkpoint path")
    p.add_argument("--out", type=Path, required=True, help="output folder (records.jsonl, scores/, cache/)")
    p.add_argument("--cache", type=Path, help="cache folder (default: OUT/cache)")
    p.add_argument("--no-crop-cache", action="store_true", help="cache only the logits, not the face crops")
    p.add_argument("--frames", type=int, default=None,
                   help="evenly spaced frames per video (default: the weights' recipe, frames_per_video)")
    p.add_argument("--face-policy", default="recipe", choices=("recipe", "max", "largest"),
                   help="frame score from the most suspicious face or the largest face; recipe: the weights' "
                        "frame_policy (default: %(default)s)")
    p.add_argument("--tta", default="recipe", choices=("recipe", "none", "flip"),
                   help="flip: mean of the crop's and its mirror's logits; recipe: what the weights' recipe says "
                        "(default: %(default)s)")
    p.add_argument("--no-face", default="recipe", choices=("recipe", "no_score", "chance", "whole_image"),
                   help="what a frame, or a video with no judged face in any frame, gets: no score (left out and "
                        "counted), chance (0.5) or the whole frame scored as one face; recipe: the weights' "
                        "no_face rule (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=8, help="faces per network call (default: %(default)s)")
    p.add_argument("--device", help="torch device for the network (default: cuda if available, else cpu)")
    p.add_argument("--official-float64", action="store_true", help="run the network in float64 as the official code")
    p.add_argument("--bootstrap", type=int, default=1000,
                   help="bootstrap resamples for the 95%% intervals (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the bootstrap and of random perturbations (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--shard", metavar="I/N",
                   help="score only shard I of N (0-based, items partitioned by key) into the shared cache and "
                        "write no records; once every shard is done, the same command without --shard writes "
                        "them. Under torchrun the shard comes from RANK / WORLD_SIZE and rank 0 writes them "
                        "(default: all items)")


def _add_level(p: argparse.ArgumentParser, default: str) -> None:
    p.add_argument("--level", default=default, choices=("frame", "video", "both"),
                   help="frame-level, video-level or both kinds of records (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="laanet-bench", description=__doc__.split("\n\n")[0] + " " + EXIT_CODES)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version('laanet-bench')}")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("datasets", help="list the dataset adapters and the layout each expects",
                   description="List the dataset adapters and the layout each expects. " + EXIT_CODES)
    ev = sub.add_parser("evaluate", help="score a dataset and append records to OUT/records.jsonl",
                        description="Score a dataset and append one record per level to OUT/records.jsonl "
                                    "(resumable: scores are cached per item). " + EXIT_CODES)
    _add_input_args(ev)
    _add_level(ev, "both")
    ev.add_argument("--per-subset", action="store_true", help="also record each subset (e.g. FF++ method)")
    tb = sub.add_parser("table", help="markdown, CSV and LaTeX tables and ROC curves from records",
                        description="Markdown, CSV and LaTeX tables and ROC curves from records; partial runs "
                                    "are marked. " + EXIT_CODES)
    tb.add_argument("--records", type=Path, required=True, help="records.jsonl or the folder holding it")
    tb.add_argument("--out", type=Path, help="where to write tables (default: beside the records)")
    _add_level(tb, "both")
    rb = sub.add_parser("robustness", help="evaluate under each perturbation and level",
                        description="Evaluate under each perturbation type and level. " + EXIT_CODES)
    _add_input_args(rb)
    _add_level(rb, "video")
    rb.add_argument("--perturbations", default="",
                    help=f"comma-separated types (default: all: {PERTURBATION_TYPES})")
    rb.add_argument("--levels", default="", help="comma-separated levels 1..5 (default: all)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Console script ``laanet-bench``."""
    args = build_parser().parse_args(argv)
    from .commands import run

    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
