"""Test-time perturbations applied to frames before face detection.

The seven DeeperForensics-1.0 distortions at their five published levels (saturation, contrast, block-wise,
Gaussian noise, Gaussian blur, pixelation, which that code calls "JPEG", and H.264 video compression at a CRF)
plus a true JPEG-quality sweep. Frame operations are pure functions of an RGB uint8 image, a level parameter and
an explicit random generator.

Deviations from the DeeperForensics code, on purpose: block-wise uses at least ``param`` blocks on frames
smaller than 256 px (their integer division gives none), and video compression re-encodes the sampled frames
as a clip (at the source frame rate) rather than the whole video.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np


class PerturbationError(RuntimeError):
    """A perturbation is unknown, got a bad level, or cannot run here (for instance without ffmpeg)."""


def color_saturation(img: np.ndarray, param: float, rng: np.random.Generator) -> np.ndarray:
    """Scale the chroma (Cr, Cb) around 128 by ``param`` in YCrCb."""
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb).astype(np.float32)
    ycc[..., 1:] = 128.0 + (ycc[..., 1:] - 128.0) * param
    return cv2.cvtColor(np.clip(ycc, 0, 255).astype(np.uint8), cv2.COLOR_YCrCb2RGB)


def color_contrast(img: np.ndarray, param: float, rng: np.random.Generator) -> np.ndarray:
    """Multiply pixel values by ``param``."""
    return np.clip(img.astype(np.float32) * param, 0, 255).astype(np.uint8)


def block_wise(img: np.ndarray, param: float, rng: np.random.Generator) -> np.ndarray:
    """Paint ``param * max(1, min(H, W) // 256)`` grey (128) 8x8 blocks at random positions."""
    width = 8
    out = img.copy()
    h, w = out.shape[:2]
    count = int(param) * max(1, min(h, w) // 256)
    for _ in range(count):
        x = int(rng.integers(0, max(1, w - width)))
        y = int(rng.integers(0, max(1, h - width)))
        out[y:y + width, x:x + width] = 128
    return out


def gaussian_noise_color(img: np.ndarray, param: float, rng: np.random.Generator) -> np.ndarray:
    """Add zero-mean Gaussian noise of variance ``param`` to every YCrCb channel (values in [0, 1])."""
    ycc = cv2.cvtColor(img, cv2.COLOR_RGB2YCrCb).astype(np.float64) / 255.0
    ycc = ycc + np.sqrt(param) * rng.standard_normal(ycc.shape)
    ycc = np.clip(ycc * 255.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def gaussian_blur(img: np.ndarray, param: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian blur with an odd kernel of size ``param`` and sigma ``param / 6``."""
    k = int(param)
    return cv2.GaussianBlur(img, (k, k), k / 6.0)


def pixelation(img: np.ndarray, param: float, rng: np.random.Generator) -> np.ndarray:
    """Downscale by the factor ``param`` and scale back up (the DeeperForensics "JPEG" distortion)."""
    h, w = img.shape[:2]
    f = int(param)
    small = cv2.resize(img, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def jpeg_quality(img: np.ndarray, param: float, rng: np.random.Generator) -> np.ndarray:
    """Encode as JPEG at quality ``param`` and decode."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(param)])
    if not ok:
        raise PerturbationError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def ffmpeg_executable() -> str | None:
    """An ffmpeg binary: the one bundled by ``imageio-ffmpeg``, else one on PATH, else ``None``."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return shutil.which("ffmpeg")


def video_compression(frames: Sequence[np.ndarray], crf: float, fps: float = 25.0,
                      ffmpeg: str | None = None) -> list[np.ndarray]:
    """Re-encode equally sized RGB frames as one H.264 clip at ``crf`` (libx264, yuv420p) and decode them."""
    exe = ffmpeg or ffmpeg_executable()
    if exe is None:
        raise PerturbationError("video compression needs ffmpeg: install the 'imageio-ffmpeg' package "
                                "or put an ffmpeg binary on PATH")
    if not frames:
        return []
    h, w = frames[0].shape[:2]
    sizes = [f.shape[:2] for f in frames]
    if any(sz != (h, w) for sz in sizes):
        # frame sequences of varying size (face tracks): encode at the first size, restore each size after
        same = [f if f.shape[:2] == (h, w) else cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in frames]
        out = video_compression(same, crf, fps=fps, ffmpeg=ffmpeg)
        return [o if sz == (h, w) else cv2.resize(o, (sz[1], sz[0]), interpolation=cv2.INTER_LINEAR)
                for o, sz in zip(out, sizes, strict=True)]
    ph, pw = h + h % 2, w + w % 2
    padded = [np.pad(f, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge") for f in frames]
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        enc = [exe, "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-s", f"{pw}x{ph}", "-r", f"{fps:g}", "-i", "-", "-c:v", "libx264", "-crf", f"{int(crf)}",
               "-pix_fmt", "yuv420p", str(clip)]
        run = subprocess.run(enc, input=b"".join(np.ascontiguousarray(f).tobytes() for f in padded),
                             capture_output=True, check=False)
        if run.returncode != 0:
            raise PerturbationError(f"ffmpeg encoding failed: {run.stderr.decode(errors='replace')[-400:]}")
        dec = [exe, "-hide_banner", "-loglevel", "error", "-i", str(clip), "-f", "rawvideo", "-pix_fmt", "rgb24",
               "-fps_mode", "passthrough", "-"]
        run = subprocess.run(dec, capture_output=True, check=False)
        if run.returncode != 0:
            raise PerturbationError(f"ffmpeg decoding failed: {run.stderr.decode(errors='replace')[-400:]}")
    data = np.frombuffer(run.stdout, dtype=np.uint8)
    n = data.size // (ph * pw * 3)
    if n != len(frames):
        raise PerturbationError(f"ffmpeg returned {n} frames for {len(frames)}")
    out = data.reshape(n, ph, pw, 3)[:, :h, :w]
    return [np.ascontiguousarray(f) for f in out]


FrameOp = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class PerturbationSpec:
    """A perturbation type: its short name, title, parameter name and the parameter of levels 1..5."""

    name: str
    title: str
    parameter: str
    levels: tuple[float, ...]
    per_clip: bool = False


PERTURBATIONS: dict[str, PerturbationSpec] = {
    "CS": PerturbationSpec("CS", "colour saturation", "chroma scale", (0.4, 0.3, 0.2, 0.1, 0.0)),
    "CC": PerturbationSpec("CC", "colour contrast", "pixel scale", (0.85, 0.725, 0.6, 0.475, 0.35)),
    "BW": PerturbationSpec("BW", "block-wise", "blocks per 256 px", (16, 32, 48, 64, 80)),
    "GNC": PerturbationSpec("GNC", "Gaussian noise (colour)", "variance", (0.001, 0.002, 0.005, 0.01, 0.05)),
    "GB": PerturbationSpec("GB", "Gaussian blur", "kernel size", (7, 9, 13, 17, 21)),
    "PX": PerturbationSpec("PX", "pixelation (DeeperForensics 'JPEG')", "downscale factor", (2, 3, 4, 5, 6)),
    "VC": PerturbationSpec("VC", "video compression (H.264)", "CRF", (30, 32, 35, 38, 40), per_clip=True),
    "JPEG": PerturbationSpec("JPEG", "JPEG quality", "quality", (90, 70, 50, 30, 10)),
}

FRAME_OPS: dict[str, FrameOp] = {
    "CS": color_saturation, "CC": color_contrast, "BW": block_wise, "GNC": gaussian_noise_color,
    "GB": gaussian_blur, "PX": pixelation, "JPEG": jpeg_quality,
}


@dataclass(frozen=True)
class Perturbation:
    """One perturbation type at one level (1-based), with the seed for its random parts."""

    name: str
    level: int
    seed: int = 0

    @property
    def spec(self) -> PerturbationSpec:
        try:
            return PERTURBATIONS[self.name]
        except KeyError:
            raise PerturbationError(f"unknown perturbation {self.name!r}; known: {', '.join(PERTURBATIONS)}") from None

    @property
    def param(self) -> float:
        levels = self.spec.levels
        if not 1 <= self.level <= len(levels):
            raise PerturbationError(f"{self.name} has levels 1..{len(levels)}, got {self.level}")
        return levels[self.level - 1]

    def check(self) -> None:
        """Raise :class:`PerturbationError` now if this perturbation cannot run."""
        _ = self.param
        if self.spec.per_clip and ffmpeg_executable() is None:
            raise PerturbationError("video compression needs ffmpeg: install the 'imageio-ffmpeg' package "
                                    "or put an ffmpeg binary on PATH")


def perturb_frames(frames: Sequence[np.ndarray], perturbation: Perturbation | None, key: str = "",
                   fps: float = 25.0) -> list[np.ndarray]:
    """Apply ``perturbation`` to the frames of one item; random parts are seeded by (seed, key, frame)."""
    if perturbation is None:
        return list(frames)
    spec, param = perturbation.spec, perturbation.param
    if spec.per_clip:
        return video_compression(frames, param, fps=fps)
    op = FRAME_OPS[spec.name]
    base = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:15], 16)
    return [op(f, param, np.random.default_rng([perturbation.seed, base, i])) for i, f in enumerate(frames)]
