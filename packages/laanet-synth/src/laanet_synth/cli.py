"""``laanet-synth``: preprocess videos/images into face crops + an index, and draw synthesis contact sheets."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import write_text
from .media import media_kind


@dataclass(frozen=True)
class Source:
    """One input file: its path, a path relative to its input root, and kind ('image' or 'video')."""

    path: Path
    rel: Path
    kind: str


def collect_sources(inputs: Sequence[str | os.PathLike[str]]) -> list[Source]:
    """Image and video files under ``inputs`` (files or folders, recursive), sorted."""
    out: list[Source] = []
    for raw in inputs:
        p = Path(raw)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file())
            base = p
        elif p.is_file():
            files, base = [p], p.parent
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
        for f in files:
            kind = media_kind(f)
            if kind:
                out.append(Source(f, f.relative_to(base), kind))
    return out


def _record_name(src: Source) -> str:
    return hashlib.sha1(str(src.rel).encode()).hexdigest()[:16] + ".json"


def process_source(src: Source, out_dir: Path, finder, recipe, n_frames: int, all_faces: bool) -> dict:
    """Frames -> faces -> margin crops (PNG) + crop-space landmarks; returns the source's record."""
    from .crops import CropError, crop_face, margin_crop_recipe
    from .imageio import read_image, write_image_atomic
    from .video import read_frames

    if src.kind == "video":
        frames = read_frames(src.path, n_frames)
        group = str(src.rel.with_suffix(""))
    else:
        frames = [(0, read_image(src.path))]
        group = str(src.rel.parent) if str(src.rel.parent) != "." else src.rel.stem
    stage = margin_crop_recipe(recipe)
    entries = []
    for idx, frame in frames:
        faces = finder.find(frame)
        for k, face in enumerate(faces if all_faces else faces[:1]):
            try:
                crop = crop_face(frame, face, stage)
            except CropError:
                continue
            rel = Path("crops") / src.rel.with_suffix("") / f"{idx:05d}_{k}.png"
            write_image_atomic(out_dir / rel, crop.image)
            lms = crop.landmarks
            entries.append({
                "path": str(rel),
                "group": group,
                "frame": int(idx),
                "landmarks": np.round(lms, 3).tolist(),
                "box": [0.0, 0.0, float(crop.image.shape[1]), float(crop.image.shape[0])],
                "score": float(face.score),
            })
    return {"source": str(src.rel), "status": "ok", "frames": len(frames), "entries": entries}


def build_index(out_dir: Path, records: list[dict]):
    """The :class:`FaceIndex` of every crop in ``records`` (root = ``out_dir``)."""
    from .dataset import FaceIndex

    entries = [e for r in records if r.get("status") == "ok" for e in r["entries"]]
    if not entries:
        return FaceIndex(out_dir, np.zeros(0, str), np.zeros(0, str), np.zeros((0, 68, 2)), np.zeros((0, 4)), pre_cropped=True)
    return FaceIndex(
        out_dir,
        np.array([e["path"] for e in entries]),
        np.array([e["group"] for e in entries]),
        np.array([e["landmarks"] for e in entries], np.float32),
        np.array([e["box"] for e in entries], np.float32),
        pre_cropped=True,
    )


def cmd_preprocess(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .crops import get_recipe
    from .faces import make_face_finder

    out_dir = Path(args.out)
    rec_dir = out_dir / "records"
    sources = collect_sources(args.inputs)
    recipe = get_recipe(args.recipe)
    finder = make_face_finder(args.finder)
    done = skipped = failed = 0
    errors: list[str] = []
    for src in tqdm(sources, desc="preprocess", unit="file", disable=args.quiet):
        rec_path = rec_dir / _record_name(src)
        if rec_path.is_file():
            prev = json.loads(rec_path.read_text())
            if prev.get("status") == "ok" or not args.retry_errors:
                skipped += 1
                continue
        try:
            rec = process_source(src, out_dir, finder, recipe, args.frames, args.all_faces)
            done += 1
        except (ValueError, OSError) as exc:  # ImageReadError, VideoReadError, ... : report and go on
            rec = {"source": str(src.rel), "status": "error", "error": str(exc), "entries": []}
            errors.append(f"{src.rel}: {exc}")
            failed += 1
        write_text(rec_path, json.dumps(rec))
    records = [json.loads(p.read_text()) for p in sorted(rec_dir.glob("*.json"))] if rec_dir.is_dir() else []
    index = build_index(out_dir, records)
    index.save(out_dir / "index.npz")
    for e in errors:
        print(f"skipped (unreadable): {e}", file=sys.stderr)
    print(json.dumps({"sources": len(sources), "processed": done, "resumed": skipped, "failed": failed, "faces": len(index),
                      "index": str(out_dir / "index.npz"), "recipe": recipe.name}))
    return 0


def contact_sheet(index, n: int, size: int, seed: int, kinds: Sequence[str] = ("sbi", "bi"), recipe=None) -> np.ndarray:
    """A grid image: one row per face and kind, columns real / fake / mask / heatmap (over the fake)."""
    import cv2

    from .crops import recipe_for_size
    from .dataset import BIPairDataset, SBIPairDataset

    rng = np.random.default_rng(seed)
    recipe = recipe if recipe is not None else recipe_for_size(size)
    size = recipe.input_size
    # a pool holding the chosen faces and up to 3000 others (donor candidates for BI)
    pool_idx = np.sort(rng.choice(len(index), size=min(len(index), 3000), replace=False))
    pool = index.subset(pool_idx)
    sel = np.sort(rng.choice(len(pool), size=min(n, len(pool)), replace=False))
    rows = []
    datasets = {}
    if "sbi" in kinds:
        datasets["sbi"] = SBIPairDataset(pool, recipe, seed=seed, split="val")
    if "bi" in kinds:
        datasets["bi"] = BIPairDataset(pool, recipe, seed=seed, split="val")
    for i in sel:
        for kind, ds in datasets.items():
            raw = ds.raw_item(int(i))
            mask = (np.repeat(raw["mask"][..., None], 3, 2) * 255).astype(np.uint8)
            hm = cv2.resize(raw["hm"][0], (size, size), interpolation=cv2.INTER_NEAREST)
            heat = cv2.applyColorMap((hm * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
            over = np.where(hm[..., None] > 0.05, (0.6 * heat + 0.4 * raw["fake"]).astype(np.uint8), raw["fake"])
            tiles = [raw["real"], raw["fake"], mask, over]
            row = np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in tiles], 1)
            label = np.full((row.shape[0], 44, 3), 255, np.uint8)
            cv2.putText(label, kind.upper(), (2, row.shape[0] // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
            rows.append(np.concatenate([label, row], 1))
    header = np.full((24, rows[0].shape[1], 3), 255, np.uint8)
    for c, name in enumerate(["real", "fake", "mask", "heatmap"]):
        cv2.putText(header, name, (44 + c * (size + 4) + 6, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, *rows], 0)


def cmd_contact_sheet(args: argparse.Namespace) -> int:
    from .crops import pre_cropped, recipe_for_size
    from .dataset import FaceIndex
    from .imageio import write_image_atomic

    recipe = recipe_for_size(args.size)
    if args.index:
        index, recipe = FaceIndex.load(args.index), pre_cropped(recipe)
    else:
        index = FaceIndex.from_lfw(args.lfw, "train")
    if len(index) == 0:
        print("the index holds no faces", file=sys.stderr)
        return 2
    kinds = ("sbi", "bi") if args.kind == "both" else (args.kind,)
    sheet = contact_sheet(index, args.n, args.size, args.seed, kinds, recipe)
    write_image_atomic(args.out, sheet)
    print(json.dumps({"out": str(args.out), "faces": args.n, "kinds": list(kinds), "shape": list(sheet.shape)}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="laanet-synth", description="Face crops, landmarks and SBI/BI pseudo-fakes for LAA-Net.")
    sub = p.add_subparsers(dest="command", required=True)
    pre = sub.add_parser("preprocess", help="videos/images -> evenly spaced frames -> faces -> margin crops + landmarks -> index.npz")
    pre.add_argument("inputs", nargs="+", help="image/video files or folders (searched recursively)")
    pre.add_argument("--out", required=True, help="output folder (crops/, records/, index.npz); re-running resumes")
    pre.add_argument("--frames", type=int, default=32, help="evenly spaced frames per video (default 32)")
    pre.add_argument("--recipe", default="official-sbi", help="crop recipe whose margin crop is stored (default official-sbi)")
    pre.add_argument("--finder", default="dlib", help="face finder backend (dlib, face-alignment)")
    pre.add_argument("--all-faces", action="store_true", help="keep every face, not only the largest per frame")
    pre.add_argument("--retry-errors", action="store_true", help="retry files that failed in an earlier run")
    pre.add_argument("--quiet", action="store_true", help="no progress bar")
    pre.set_defaults(func=cmd_preprocess)
    cs = sub.add_parser("contact-sheet", help="PNG grid of real / fake / mask / heatmap for some faces")
    src = cs.add_mutually_exclusive_group(required=True)
    src.add_argument("--lfw", help="LFW folder with landmarks68_dlib.npz (train identities are used)")
    src.add_argument("--index", help="an index.npz written by preprocess (crops there are margin crops)")
    cs.add_argument("--out", required=True, help="output PNG path")
    cs.add_argument("--n", type=int, default=6, help="number of faces (default 6)")
    cs.add_argument("--size", type=int, default=256, help="network input size (default 256)")
    cs.add_argument("--kind", choices=["sbi", "bi", "both"], default="both")
    cs.add_argument("--seed", type=int, default=0)
    cs.set_defaults(func=cmd_contact_sheet)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except FileNotFoundError as exc:
        print(f"laanet-synth: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
