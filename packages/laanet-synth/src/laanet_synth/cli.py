"""``laanet-synth``: preprocess videos/images into face crops + an index, and draw synthesis contact sheets."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


from .atomic import write_text
from .media import OFFICIAL_FRAMES_PER_VIDEO, media_kind
from .messages import one_line
from .shards import ShardError


@dataclass(frozen=True)
class Source:
    """One input file: its path, a path relative to its input root, and kind ('image' or 'video')."""

    path: Path
    rel: Path
    kind: str


def input_root(inputs: Sequence[str | os.PathLike[str]]) -> Path:
    """The deepest folder holding every input (a folder counts as itself, a file as its folder)."""
    bases = [os.path.abspath(p if Path(p).is_dir() else Path(p).parent) for p in inputs]
    return Path(os.path.commonpath(bases))


def collect_sources(inputs: Sequence[str | os.PathLike[str]]) -> list[Source]:
    """Image and video files under ``inputs`` (files or folders, recursive), sorted, each with a path relative
    to the common root of all inputs (so ``a/clip.mp4`` and ``b/clip.mp4`` stay two sources)."""
    for raw in inputs:
        if not Path(raw).exists():
            raise FileNotFoundError(f"{raw}: no such file or folder")
    root = input_root(inputs)
    out: list[Source] = []
    seen: set[Path] = set()
    for raw in inputs:
        p = Path(raw)
        files = sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p]
        for f in files:
            kind = media_kind(f)
            rel = Path(os.path.abspath(f)).relative_to(root)
            if kind and rel not in seen:
                seen.add(rel)
                out.append(Source(f, rel, kind))
    return out


class UsageError(ValueError):
    """A bad option value, reported in one line with exit status 2."""


@dataclass(frozen=True)
class PreprocessSettings:
    """What a source's crops depend on besides the file; a record made with other settings is redone."""

    frames: int
    recipe: str
    finder: str
    all_faces: bool


def _record_name(src: Source) -> str:
    # os.fsencode: a file name that is not UTF-8 (kept as surrogates by Python) hashes as its bytes
    return hashlib.sha1(os.fsencode(str(src.rel))).hexdigest()[:16] + ".json"


def crop_folder(src: Source) -> Path:
    """Where a source's crops go: ``crops/<relative path, extension included>/`` (``face.jpg``, ``face.png``
    and ``face.JPG`` are three sources with three folders)."""
    return Path("crops") / src.rel


def check_output_file(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """``path`` if a file can be written there: not a folder, in a folder that exists and is writable;
    :class:`UsageError` otherwise (checked before the work starts)."""
    from .output_paths import file_target_problem

    problem = file_target_problem(path, f"{option} {Path(path)}")
    if problem is not None:
        raise UsageError(problem)
    return Path(path)


def check_output_folder(path: str | os.PathLike[str], option: str = "--out") -> Path:
    """``path`` made a folder if it is not one yet; :class:`UsageError` if it cannot be one or is not writable."""
    from .output_paths import folder_target_problem

    problem = folder_target_problem(path, f"{option} {Path(path)}", create=True)
    if problem is not None:
        raise UsageError(problem)
    return Path(path)


def process_source(src: Source, out_dir: Path, finder, recipe, n_frames: int, all_faces: bool) -> dict:
    """Frames -> faces -> margin crops (PNG) + crop-space landmarks; returns the source's record."""
    import numpy as np

    from .crops import CropError, crop_face, margin_crop_recipe
    from .faces import find_faces_batch
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
    found = find_faces_batch(finder, [frame for _, frame in frames])  # the frames of a video detected in batches
    for (idx, frame), faces in zip(frames, found, strict=True):
        for k, face in enumerate(faces if all_faces else faces[:1]):
            try:
                crop = crop_face(frame, face, stage)
            except CropError:
                continue
            rel = crop_folder(src) / f"{idx:05d}_{k}.png"
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
    import numpy as np

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


def shard_index_name(shard) -> str:
    """File name of the index of one shard's sources, beside ``index.npz``."""
    return f"index.shard-{shard.index}-of-{shard.count}.npz"


def _read_records(rec_dir: Path, known: Mapping[str, dict]) -> dict[str, dict]:
    """Every per-source record in ``rec_dir`` by file name: those in ``known`` as they are there, the others
    read from their files (records of other shards, or of sources no longer among the inputs)."""
    names = sorted(p.name for p in rec_dir.glob("*.json")) if rec_dir.is_dir() else []
    return {n: known[n] if n in known else json.loads((rec_dir / n).read_text()) for n in names}


def _index_records(records: Mapping[str, dict], settings: dict) -> list[dict]:
    """The records made with ``settings``, in file-name order (the order of the index)."""
    return [records[n] for n in sorted(records) if records[n].get("settings") == settings]


@dataclass
class _Tally:
    processed: int = 0
    resumed: int = 0
    failed: int = 0
    settings_changed: int = 0


def _preprocess_sources(sources: Sequence[Source], out_dir: Path, args: argparse.Namespace, desc: str,
                        settings: PreprocessSettings, recipe, finder
                        ) -> tuple[_Tally, list[str], dict[str, dict]]:
    """Process each source not done yet with these settings (resumable: one record per source, written
    atomically; a record made with other settings is redone); returns the tally, the errors and every
    source's record (resumed or new) by record file name."""
    from tqdm import tqdm

    rec_dir = out_dir / "records"
    tally = _Tally()
    errors: list[str] = []
    records: dict[str, dict] = {}
    for src in tqdm(sources, desc=desc, unit="file", disable=args.quiet):
        name = _record_name(src)
        rec_path = rec_dir / name
        if rec_path.is_file():
            prev = json.loads(rec_path.read_text())
            if prev.get("settings") != asdict(settings):
                tally.settings_changed += 1
            elif prev.get("status") == "ok" or not args.retry_errors:
                tally.resumed += 1
                records[name] = prev
                continue
        try:
            rec = process_source(src, out_dir, finder, recipe, args.frames, args.all_faces)
            tally.processed += 1
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop a long job
            rec = {"source": str(src.rel), "status": "error", "error": str(exc), "entries": []}
            errors.append(f"{src.rel}: {exc}")
            tally.failed += 1
        rec["settings"] = asdict(settings)
        write_text(rec_path, json.dumps(rec))
        records[name] = rec
    return tally, errors, records


def cmd_preprocess(args: argparse.Namespace) -> int:
    from .crops import CropError, get_recipe
    from .faces import FaceFinderError, make_face_finder
    from .shards import barrier, multi_process_run, parse_shard, process_group

    if args.frames < 1:
        raise UsageError(f"--frames {args.frames}: expected a whole number of frames >= 1")
    settings = PreprocessSettings(args.frames, args.recipe, args.finder, args.all_faces)
    try:
        recipe = get_recipe(args.recipe)
        finder = make_face_finder(args.finder)
    except (CropError, FaceFinderError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    sources = collect_sources(args.inputs)
    ctx = multi_process_run(args.shard)
    shard = parse_shard(args.shard) if args.shard else (ctx.shard if ctx is not None else None)
    out_dir = check_output_folder(args.out)  # after every usage check: a refused run creates nothing
    rec_dir = out_dir / "records"
    mine = sources if shard is None else shard.select(sources, key=lambda s: str(s.rel))
    desc = "preprocess" if shard is None else f"preprocess [{shard}]"
    tally, errors, records = _preprocess_sources(mine, out_dir, args, desc, settings, recipe, finder)
    for e in errors:
        print(f"skipped (unreadable): {one_line(e)}", file=sys.stderr)
    still_failed = sum(r.get("status") != "ok" for r in records.values())
    summary = {"sources": len(sources), "processed": tally.processed, "resumed": tally.resumed,
               "failed": tally.failed, "settings_changed": tally.settings_changed, "failed_total": still_failed,
               "recipe": recipe.name}
    if shard is not None:
        shard_index = build_index(out_dir, _index_records(records, asdict(settings)))
        shard_path = out_dir / shard_index_name(shard)
        shard_index.save(shard_path)
        summary.update(shard=str(shard), shard_sources=len(mine), shard_faces=len(shard_index),
                       shard_index=str(shard_path))
    if ctx is not None:
        with process_group(ctx, "cpu"):
            barrier("cpu")
    if shard is None or (ctx is not None and ctx.is_writer):
        index = build_index(out_dir, _index_records(_read_records(rec_dir, records), asdict(settings)))
        index.save(out_dir / "index.npz")
        summary.update(faces=len(index), index=str(out_dir / "index.npz"))
    elif ctx is None:
        summary["note"] = "index.npz not written: once every shard is done, run the same command without --shard"
    print(json.dumps(summary))
    return 1 if still_failed else 0


def contact_sheet(index, n: int, size: int, seed: int, kinds: Sequence[str] = ("sbi", "bi"), recipe=None) -> np.ndarray:
    """A grid image: one row per face and kind, columns real / fake / mask / heatmap (over the fake)."""
    import cv2
    import numpy as np

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
    import zipfile

    from .crops import pre_cropped, recipe_for_size
    from .dataset import FaceIndex, FaceIndexError
    from .imageio import write_image_atomic

    out = check_output_file(args.out)
    if args.n < 1 or args.size < 32:
        raise UsageError(f"--n {args.n} --size {args.size}: expected at least 1 face of at least 32 px")
    recipe = recipe_for_size(args.size)
    where = f"--index {args.index}" if args.index else f"--lfw {args.lfw}"
    try:
        if args.index:
            index, recipe = FaceIndex.load(args.index), pre_cropped(recipe)
        else:
            index = FaceIndex.from_lfw(args.lfw, "train")
    except (FaceIndexError, OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise UsageError(f"{where}: cannot be read as a face index ({exc})") from exc
    if len(index) == 0:
        raise UsageError(f"{where}: the index holds no faces")
    kinds = ("sbi", "bi") if args.kind == "both" else (args.kind,)
    try:
        sheet = contact_sheet(index, args.n, args.size, args.seed, kinds, recipe)
    except (OSError, ValueError) as exc:
        raise UsageError(f"{where}: the faces it lists cannot be read ({exc})") from exc
    write_image_atomic(out, sheet)
    print(json.dumps({"out": str(args.out), "faces": args.n, "kinds": list(kinds), "shape": list(sheet.shape)}))
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="laanet-synth", description="Face crops, landmarks and SBI/BI pseudo-fakes for LAA-Net.")
    p.add_argument("--version", action="version", version=f"%(prog)s {version('laanet-synth')}")
    sub = p.add_subparsers(dest="command", required=True)
    pre = sub.add_parser("preprocess", help="videos/images -> evenly spaced frames -> faces -> margin crops + landmarks -> index.npz")
    pre.add_argument("inputs", nargs="+", help="image/video files or folders (searched recursively)")
    pre.add_argument("--out", required=True, help="output folder (crops/, records/, index.npz); re-running resumes")
    pre.add_argument("--frames", type=int, default=OFFICIAL_FRAMES_PER_VIDEO,
                     help="evenly spaced frames per video (default %(default)s, the official test protocol's)")
    pre.add_argument("--recipe", default="official-sbi", help="crop recipe whose margin crop is stored (default official-sbi)")
    pre.add_argument("--finder", default="retinaface", help="face finder backend (retinaface, dlib, face-alignment)")
    pre.add_argument("--all-faces", action="store_true", help="keep every face, not only the largest per frame")
    pre.add_argument("--retry-errors", action="store_true", help="retry files that failed in an earlier run")
    pre.add_argument("--quiet", action="store_true", help="no progress bar")
    pre.add_argument("--shard", metavar="I/N",
                     help="process only shard I of N (0-based, files partitioned by path) and write "
                          "index.shard-I-of-N.npz; the same command without --shard then writes index.npz of every "
                          "file. Under torchrun the shard comes from RANK / WORLD_SIZE and rank 0 writes index.npz")
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
    except (FileNotFoundError, UsageError, ShardError) as exc:
        print(f"laanet-synth {args.command}: error: {one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        kept = " (every finished file's record is kept: rerun the same command to resume)"
        print(f"laanet-synth {args.command}: interrupted{kept if args.command == 'preprocess' else ''}",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
