"""Miniature datasets in each published layout, built from real LFW faces and SBI fakes of them
(``lfw_dir`` and ``shared_data`` come from the root conftest)."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import cv2
import numpy as np
import pytest

FRAMES_PER_VIDEO = 6
VIDEO_SIZE = 250


@dataclass(frozen=True)
class Clip:
    """A short test video and the face images its frames were made from."""

    name: str
    label: int
    video: Path
    frames: tuple[Path, ...]


def lfw_faces(lfw: Path, n: int, offset: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` LFW images (RGB) of different people with their dlib landmarks."""
    z = np.load(lfw / "landmarks68_dlib.npz")
    out, seen = [], set()
    for name, lms, nf in zip(z["names"], z["landmarks"], z["nfaces"], strict=True):
        person = str(name).split("/")[0]
        if nf != 1 or lms[0, 0] < 0 or person in seen:
            continue
        seen.add(person)
        if len(seen) <= offset:
            continue
        img = cv2.cvtColor(cv2.imread(str(lfw / "images_deepfunneled" / str(name))), cv2.COLOR_BGR2RGB)
        out.append((img, lms.astype(np.float32)))
        if len(out) == n:
            break
    return out


def sbi_fake(image: np.ndarray, landmarks: np.ndarray, seed: int) -> np.ndarray:
    """A self-blended fake of ``image`` made with laanet-synth."""
    from laanet_synth.sbi import self_blend

    fake, _, _ = self_blend(image, landmarks, np.random.default_rng(seed))
    return fake


def jitter(image: np.ndarray, k: int) -> np.ndarray:
    """Frame ``k`` of a clip: a small deterministic shift, like a slowly moving camera."""
    dx, dy = 2.0 * np.sin(k / 2.0), 1.5 * np.cos(k / 3.0)
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), borderMode=cv2.BORDER_REFLECT)


def write_video(path: Path, frames: list[np.ndarray], fps: float = 10.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    assert writer.isOpened(), "OpenCV cannot write mp4v videos here"
    for f in frames:
        writer.write(cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def make_clips(folder: Path, lfw: Path, n_real: int, n_fake: int, n_frames: int = FRAMES_PER_VIDEO,
               with_sbi: bool = True) -> list[Clip]:
    """Real clips of LFW faces and SBI-fake clips of other LFW faces (``with_sbi``; else the fake-labelled
    clips show real faces too, which is enough to check layouts), plus each clip's frames as PNGs."""
    clips = []
    faces = lfw_faces(lfw, n_real + n_fake)
    for i, (img, lms) in enumerate(faces):
        label = int(i >= n_real)
        base = sbi_fake(img, lms, seed=i) if label and with_sbi else img
        frames = [jitter(base, k) for k in range(n_frames)]
        name = f"{'fake' if label else 'real'}{i:02d}"
        video = write_video(folder / "videos" / f"{name}.mp4", frames)
        pngs = []
        for k, f in enumerate(frames):
            p = folder / "frames" / name / f"{k:03d}.png"
            p.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(p), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))
            pngs.append(p)
        clips.append(Clip(name, label, video, tuple(pngs)))
    return clips


@pytest.fixture(scope="session")
def clips(tmp_path_factory, lfw_dir: Path) -> list[Clip]:
    """Four real and four fake clips (6 frames, 250 x 250)."""
    return make_clips(tmp_path_factory.mktemp("clips"), lfw_dir, n_real=4, n_fake=4)


@pytest.fixture(scope="session")
def layout_clips(tmp_path_factory, lfw_dir: Path) -> list[Clip]:
    """Clips for layout checks only: real LFW faces under both labels (3 frames each)."""
    return make_clips(tmp_path_factory.mktemp("layout_clips"), lfw_dir, n_real=4, n_fake=4, n_frames=3,
                      with_sbi=False)


def put(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dst)


def build_ffpp(root: Path, clips: list[Clip], compression: str = "c23",
               methods: tuple[str, ...] = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures")) -> Path:
    """FF++ with a two-pair test split: 4 originals and 4 fakes per method."""
    real = [c for c in clips if c.label == 0][:4]
    fake = [c for c in clips if c.label == 1][:4]
    ids = ["000", "001", "002", "003"]
    (root / "splits").mkdir(parents=True, exist_ok=True)
    (root / "splits" / "test.json").write_text(json.dumps([["000", "001"], ["002", "003"]]))
    (root / "splits" / "train.json").write_text(json.dumps([["100", "101"]]))
    for i, c in zip(ids, real, strict=True):
        put(c.video, root / "original_sequences" / "youtube" / compression / "videos" / f"{i}.mp4")
    names = ["000_001", "001_000", "002_003", "003_002"]
    for method in methods:
        for n, c in zip(names, fake, strict=True):
            put(c.video, root / "manipulated_sequences" / method / compression / "videos" / f"{n}.mp4")
    return root


def build_celebdf(root: Path, clips: list[Clip]) -> Path:
    real = [c for c in clips if c.label == 0]
    fake = [c for c in clips if c.label == 1]
    lines = []
    for k, c in enumerate(real[:2]):
        folder = "Celeb-real" if k == 0 else "YouTube-real"
        put(c.video, root / folder / f"id{k}_0000.mp4")
        lines.append(f"1 {folder}/id{k}_0000.mp4")
    for k, c in enumerate(fake[:2]):
        put(c.video, root / "Celeb-synthesis" / f"id{k}_id9_0000.mp4")
        lines.append(f"0 Celeb-synthesis/id{k}_id9_0000.mp4")
    put(real[2].video, root / "Celeb-real" / "not_in_test.mp4")
    (root / "List_of_testing_videos.txt").write_text("\n".join(lines) + "\n")
    return root


def build_wilddeepfake(root: Path, clips: list[Clip]) -> Path:
    """Pre-cropped face sequences: ``<real|fake>_test/<video>/<seq>/<k>.png`` (centre face crops)."""
    for c in clips[:2] + clips[-2:]:
        prefix = "fake" if c.label else "real"
        for k, p in enumerate(c.frames):
            img = cv2.imread(str(p))[55:205, 50:200]
            out = root / f"{prefix}_test" / c.name / "0" / f"{k}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out), img)
    return root


def build_dfd(root: Path, clips: list[Clip], compression: str = "c23") -> Path:
    for c in clips[:2]:
        put(c.video, root / "original_sequences" / "actors" / compression / "videos" / f"01__{c.name}.mp4")
    for c in clips[-2:]:
        put(c.video, root / "manipulated_sequences" / "DeepFakeDetection" / compression / "videos"
            / f"01_02__{c.name}__ABC.mp4")
    return root


def build_dfdcp(root: Path, clips: list[Clip]) -> Path:
    index = {}
    real = [c for c in clips if c.label == 0]
    fake = [c for c in clips if c.label == 1]
    for k, c in enumerate(real[:2]):
        rel = f"original_videos/{k}/{c.name}.mp4"
        put(c.video, root / rel)
        index[rel] = {"label": "real", "set": "test", "augmented": False}
    for k, c in enumerate(fake[:2]):
        rel = f"method_{'AB'[k]}/{k}/x/{c.name}.mp4"
        put(c.video, root / rel)
        index[rel] = {"label": "fake", "set": "test", "augmented": False, "target_id": "x"}
    index["original_videos/9/train_only.mp4"] = {"label": "real", "set": "train"}
    (root / "dataset.json").write_text(json.dumps(index))
    return root


def build_dfdc(root: Path, clips: list[Clip]) -> Path:
    rows = ["filename,label"]
    for c in clips[:2] + clips[-2:]:
        put(c.video, root / "test" / "videos" / f"{c.name}.mp4")
        rows.append(f"{c.name}.mp4,{c.label}")
    (root / "test" / "labels.csv").write_text("\n".join(rows) + "\n")
    return root


def build_official_frames(root: Path, clips: list[Clip], types: tuple[str, str]) -> Path:
    """The official LAA-Net layout: ``test/frames/<TYPE>/<video>/<k>.png`` of 256 x 256 face crops."""
    for c in clips[:2] + clips[-2:]:
        ftype = types[c.label]
        for k, p in enumerate(c.frames):
            img = cv2.resize(cv2.imread(str(p))[20:240, 15:235], (256, 256))
            out = root / "test" / "frames" / ftype / c.name / f"{k:03d}.png"
            out.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(out), img)
    return root


BUILDERS = {
    "ffpp": build_ffpp, "celebdf": build_celebdf, "wilddeepfake": build_wilddeepfake, "dfd": build_dfd,
    "dfdcp": build_dfdcp, "dfdc": build_dfdc,
}


@pytest.fixture(scope="session")
def build() -> SimpleNamespace:
    """The layout builders (``build.ffpp(root, clips)``, ...), ``build.official_frames``, ``build.clips``."""
    return SimpleNamespace(**BUILDERS, official_frames=build_official_frames, clips=make_clips,
                           write_video=write_video)


UNTRAINED_INPUT_SIZE = 128


@pytest.fixture(scope="session")
def untrained_weights(tmp_path_factory) -> Path:
    """An untrained Lite0 LAA-Net saved as ``.safetensors`` with its card (128 px input, official SBI crop)."""
    import torch
    from laanet_model.checkpoints import save_weights
    from laanet_model.variants import create_model

    torch.manual_seed(0)
    model = create_model("laanet_efficientnet_lite0", pretrained=False, input_size=UNTRAINED_INPUT_SIZE)
    return save_weights(model, tmp_path_factory.mktemp("weights") / "untrained-lite0",
                        card={"variant": "laanet_efficientnet_lite0", "description": "untrained, for plumbing tests"})


@pytest.fixture(scope="session")
def scorer(untrained_weights):
    """A Detector on the untrained weights, as the harness scores with it (its scores mean nothing)."""
    from laanet_bench.scorer import load_scorer

    return load_scorer(untrained_weights)


@pytest.fixture
def kill_when():
    """``kill_when(cmd, ready, env)``: start ``cmd``, send it SIGKILL as soon as ``ready()`` is true, and return
    the finished process; fails when the command ends first or ``ready()`` stays false for ``timeout`` s."""
    import os
    import signal
    import subprocess
    import time

    def run(cmd: list[str], ready, env: dict[str, str] | None = None, timeout: float = 300.0):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        give_up = time.monotonic() + timeout
        try:
            while not ready():
                if proc.poll() is not None:
                    pytest.fail(f"{cmd[2:4]} ended (status {proc.returncode}) before it could be killed")
                if time.monotonic() > give_up:
                    pytest.fail(f"{cmd[2:4]}: not ready after {timeout:.0f} s")
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.wait()
        return proc
    return run
