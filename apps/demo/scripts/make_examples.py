"""Make the demo's labelled fake examples from the shared data (run once; the outputs are committed).

* `fake-sbi-lfw-<Person>.jpg`: a self-blended image (SBI, `laanet_synth.sbi.self_blend`) of the first photo of
  held-out LFW identities (`peopleDevTest.txt`, never seen in training), with the 68 dlib landmarks of
  `lfw/landmarks68_dlib.npz` extended to 81 points; seeded, so the files are reproducible.
* `video-dfdc-0017-fake.webm`: the first seconds of `videos/0017_fake.mp4` (a deepfake, named so by its source),
  downscaled and re-encoded as WebM VP8 so that browsers can play it.

    uv run python apps/demo/scripts/make_examples.py --shared ../shared/data --out apps/demo/src/laanet_demo/examples
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from laanet_synth.imageio import read_image
from laanet_synth.landmarks import to_81
from laanet_synth.sbi import self_blend


def held_out_people(lfw: Path, n: int, names: np.ndarray, landmarks: np.ndarray) -> list[tuple[str, int]]:
    """The first `n` identities of peopleDevTest.txt whose first photo has landmarks: (person, npz row)."""
    row_of = {str(name): i for i, name in enumerate(names)}
    out = []
    for line in (lfw / "peopleDevTest.txt").read_text().splitlines()[1:]:
        person = line.split("\t")[0]
        row = row_of.get(f"{person}/{person}_0001.jpg")
        if row is not None and landmarks[row].min() >= 0:
            out.append((person, row))
        if len(out) == n:
            break
    return out


def make_fakes(shared: Path, out: Path, n: int, seed: int) -> list[Path]:
    lfw = shared / "lfw"
    npz = np.load(lfw / "landmarks68_dlib.npz")
    rng = np.random.default_rng(seed)
    written = []
    for person, row in held_out_people(lfw, n, npz["names"], npz["landmarks"]):
        image = read_image(lfw / "images_deepfunneled" / str(npz["names"][row]))
        fake, _, _ = self_blend(image, to_81(npz["landmarks"][row].astype(np.float32)), rng)
        target = out / f"fake-sbi-lfw-{person}.jpg"
        cv2.imwrite(str(target), cv2.cvtColor(fake, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92])
        written.append(target)
    return written


def make_video(source: Path, target: Path, seconds: float, max_side: int) -> Path:
    cap = cv2.VideoCapture(str(source))
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    scale = min(1.0, max_side / max(w, h))
    size = (round(w * scale) // 2 * 2, round(h * scale) // 2 * 2)
    writer = cv2.VideoWriter(str(target), cv2.VideoWriter_fourcc(*"VP80"), fps, size)
    if not writer.isOpened():
        raise SystemExit("this OpenCV build cannot write WebM VP8")
    for _ in range(int(seconds * fps)):
        ok, frame = cap.read()
        if not ok:
            break
        writer.write(cv2.resize(frame, size, interpolation=cv2.INTER_AREA))
    writer.release()
    cap.release()
    return target


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shared", type=Path, default=Path("../shared/data"), help="the shared data folder")
    p.add_argument("--out", type=Path, default=Path("apps/demo/src/laanet_demo/examples"), help="the examples folder")
    p.add_argument("--fakes", type=int, default=3, help="how many SBI fakes (default: %(default)s)")
    p.add_argument("--seed", type=int, default=2024, help="seed of the self-blends (default: %(default)s)")
    args = p.parse_args()
    for path in make_fakes(args.shared, args.out, args.fakes, args.seed):
        print(path)
    print(make_video(args.shared / "videos" / "0017_fake.mp4", args.out / "video-dfdc-0017-fake.webm", 3.0, 360))


if __name__ == "__main__":
    main()
