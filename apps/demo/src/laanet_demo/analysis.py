"""Scoring one image or one video file through a Detector: the work shared by the app and the CLI."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from laanet_model import scoring

from laanet_demo.inference import FaceView, VerdictBands, most_suspicious, sigmoid
from laanet_demo.limits import DemoLimits, InputRejected, check_file, check_image_header
from laanet_demo.render import display_scale, resize_for_display

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ImageAnalysis:
    """Every face of one image and the image's score by the weight's frame rule."""

    image: np.ndarray
    faces: list[FaceView]
    n_faces_found: int
    prob: float | None
    timings_ms: dict[str, float]


@dataclass(frozen=True)
class FrameAnalysis:
    """One sampled video frame: its number, its faces, its score, and a display-size copy of the pixels."""

    frame_number: int
    faces: list[FaceView]
    prob: float | None
    logit: float | None
    display: np.ndarray
    display_scale: float


@dataclass(frozen=True)
class VideoAnalysis:
    """The sampled frames of one video and the video score by the weight's video rule."""

    frames: list[FrameAnalysis]
    n_frames_total: int | None
    prob: float | None
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def n_faces(self) -> int:
        return sum(len(f.faces) for f in self.frames)


def to_face_views(faces: Sequence[Any], bands: VerdictBands, max_faces: int) -> list[FaceView]:
    """Detector face predictions -> FaceView, keeping at most `max_faces` (the largest when there are more)."""
    views = []
    for i, f in enumerate(faces):
        box = None if getattr(f, "box", None) is None else tuple(float(v) for v in np.asarray(f.box).reshape(4))
        heat = getattr(f, "heatmap_crop", None)
        if heat is None:
            heat = f.heatmap
        heat = np.asarray(heat, dtype=np.float32)
        heat = heat.reshape(heat.shape[-2:])
        prob = float(f.prob)
        views.append(FaceView(
            index=i + 1, prob=prob, logit=float(f.logit), verdict=bands.verdict(prob), box=box,
            heatmap_crop=heat, crop=getattr(f, "crop", None),
            crop_matrix=None if getattr(f, "crop_matrix", None) is None else np.asarray(f.crop_matrix),
        ))
    if len(views) > max_faces:
        keep = sorted(views, key=lambda v: -v.area)[:max_faces]
        views = sorted(keep, key=lambda v: v.index)
    return views


def bands_for(detector: Any) -> VerdictBands:
    """The verdict bands from the detector's weight card."""
    return detector.thresholds


def frame_rule_for(detector: Any) -> str:
    """Name of the weight's frame rule: "max" (highest-scoring face) or "largest" (largest face)."""
    return str(detector.preprocessing.frame_policy)


def frame_logit(faces: Sequence[FaceView], rule: str) -> float | None:
    """The frame's logit by `rule` (`laanet_model.scoring.frame_score`); None without a face."""
    return scoring.frame_score([f.logit for f in faces], rule, [f.area for f in faces])


def video_prob(frame_logits: Sequence[float | None]) -> float | None:
    """The video score (`laanet_model.scoring.video_score`: sigmoid of the mean frame logit over frames with a
    face); None when no frame had a face."""
    if all(v is None for v in frame_logits):
        return None
    return scoring.video_score(frame_logits)


def describe_rules(detector: Any) -> str:
    """Plain-words statement of how face scores become frame and video scores."""
    frame = "highest-scoring face" if frame_rule_for(detector) == "max" else "largest face"
    video = detector.preprocessing.video_aggregation
    rule = "sigmoid(mean of frame logits)" if video == "mean_logit" else str(video)
    return f"frame score = {frame}; video score = {rule}"


def analyse_image(detector: Any, path: str | Path, limits: DemoLimits) -> ImageAnalysis:
    """Read, check and score one image file."""
    from laanet_synth.imageio import ImageReadError, read_image

    t0 = time.perf_counter()
    check_image_header(path, limits)
    try:
        image = read_image(path, max_pixels=limits.max_image_pixels)
    except ImageReadError as err:
        raise InputRejected(
            "The image could not be decoded: the file is corrupt or truncated. Please upload a complete image."
        ) from err
    t1 = time.perf_counter()
    return analyse_array(detector, image, limits, decode_ms=(t1 - t0) * 1000.0)


def analyse_array(detector: Any, image: np.ndarray, limits: DemoLimits, decode_ms: float = 0.0) -> ImageAnalysis:
    """Score an RGB uint8 image already in memory."""
    t1 = time.perf_counter()
    pred = detector.predict_image(image)
    t2 = time.perf_counter()
    bands = bands_for(detector)
    faces = to_face_views(pred.faces, bands, limits.max_faces)
    logit = detector.aggregate([f.logit for f in pred.faces], [f.area for f in pred.faces])  # every face found
    prob = None if logit is None else sigmoid(logit)
    timings = {"decode": round(decode_ms, 1), "detect_align_infer": round((t2 - t1) * 1000.0, 1)}
    return ImageAnalysis(image=image, faces=faces, n_faces_found=len(pred.faces), prob=prob, timings_ms=timings)


def analyse_video(
    detector: Any, path: str | Path, n_frames: int, limits: DemoLimits,
    progress: ProgressFn | None = None, display_max_side: int = 960,
) -> VideoAnalysis:
    """Sample `n_frames` evenly spaced frames of a video file and score every face in them."""
    from laanet_synth.video import VideoReadError, read_frames, video_info

    if not limits.min_video_frames <= n_frames <= limits.max_video_frames:
        raise InputRejected(
            f"Frames to sample must be between {limits.min_video_frames} and {limits.max_video_frames}, "
            f"got {n_frames}."
        )
    check_file(path, limits.max_video_bytes, "video")
    t0 = time.perf_counter()
    try:
        info = video_info(path)
        if info.width * info.height > limits.max_image_pixels:
            raise InputRejected(
                f"The video frames are {info.width} x {info.height} pixels; this demo accepts frames up to "
                f"{limits.max_image_pixels:,} pixels."
            )
        n_total = info.n_frames or None
        frames = read_frames(path, n_frames)
    except VideoReadError as err:
        raise InputRejected(
            "The video could not be decoded: it is corrupt, truncated or in a format this server cannot read."
        ) from err
    if len(frames) < limits.min_video_frames:
        raise InputRejected(
            f"The video has only {len(frames)} decodable frame{'s' if len(frames) != 1 else ''}; a video needs at "
            f"least {limits.min_video_frames}. For a single still, use the Image tab."
        )
    decode_ms = (time.perf_counter() - t0) * 1000.0
    bands = bands_for(detector)
    rule = frame_rule_for(detector)
    out: list[FrameAnalysis] = []
    t1 = time.perf_counter()
    for i, (number, frame) in enumerate(frames):
        pred = detector.predict_image(frame)
        faces = to_face_views(pred.faces, bands, limits.max_faces)
        logit = detector.aggregate([f.logit for f in pred.faces], [f.area for f in pred.faces], rule)
        scale = display_scale(frame.shape[0], frame.shape[1], display_max_side)
        out.append(FrameAnalysis(
            frame_number=int(number), faces=faces, logit=logit,
            prob=None if logit is None else sigmoid(logit),
            display=resize_for_display(frame, scale), display_scale=scale,
        ))
        if progress is not None:
            progress(i + 1, len(frames))
    infer_ms = (time.perf_counter() - t1) * 1000.0
    return VideoAnalysis(
        frames=out, n_frames_total=n_total, prob=video_prob([f.logit for f in out]),
        timings_ms={"decode": round(decode_ms, 1), "detect_align_infer": round(infer_ms, 1),
                    "per_frame": round(infer_ms / len(out), 1)},
    )


def most_suspicious_frames(result: VideoAnalysis, k: int) -> list[FrameAnalysis]:
    """The `k` frames with the highest scores, highest first."""
    return [result.frames[i] for i in most_suspicious([f.prob for f in result.frames], k)]


def _spec_name(detector: Any) -> str:
    spec = getattr(detector, "spec", None)
    return spec.name if spec is not None else "custom weights (no card)"


def model_summary(detector: Any) -> dict[str, Any]:
    """Short JSON description of the detector's weights: name, architecture, recipe, rules, thresholds."""
    spec = getattr(detector, "spec", None)
    pre = detector.preprocessing
    return {
        "name": _spec_name(detector),
        "variant": None if spec is None else spec.variant,
        "face_detector": pre.face_detector,
        "crop_recipe": pre.crop.name,
        "input_size": pre.input_size,
        "flip_test": pre.flip_test,
        "frame_policy": pre.frame_policy,
        "video_aggregation": pre.video_aggregation,
        "thresholds": {"real_below": detector.thresholds.real_below, "fake_above": detector.thresholds.fake_above},
    }


def _metrics_lines(metrics: dict[str, Any]) -> list[str]:
    rows = [(k, v) for k, v in metrics.items() if isinstance(v, dict)]
    lines = []
    if rows:
        cols = sorted({c for _, v in rows for c in v})
        lines += ["| dataset | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
        lines += [f"| {k} | " + " | ".join(str(v.get(c, "–")) for c in cols) + " |" for k, v in rows]
    notes = [f"{k}: {v}" for k, v in metrics.items() if not isinstance(v, dict)]
    if notes:
        lines += ["", *("- " + n for n in notes)]
    return lines or ["No metrics reported for these weights."]


def card_markdown(detector: Any, source: str) -> str:
    """The weight card as Markdown: what the model is, its recipe, rules, licence and reported metrics."""
    spec = getattr(detector, "spec", None)
    pre = detector.preprocessing
    th = detector.thresholds
    crop = pre.crop
    lines = [
        f"## {_spec_name(detector)}",
        f"*Loaded from: {source}*",
        "",
        "" if spec is None else spec.description,
        "",
        "| | |",
        "|---|---|",
        f"| architecture | `{'unknown' if spec is None else spec.variant}` |",
        f"| face detector | {pre.face_detector}" + (f" (authors used: {pre.reference_detector})" if pre.reference_detector
                                                   else "") + " |",
        f"| crop recipe | `{crop.name}`: margin {crop.margin}, crop {crop.crop_size} px, border trim "
        f"{crop.border_trim} px, input {crop.input_size} px |",
        f"| normalisation | mean {tuple(pre.mean)}, std {tuple(pre.std)} |",
        f"| flip test | {'yes (mean of the two logits)' if pre.flip_test else 'no'} |",
        f"| frame score | {'highest-scoring face' if pre.frame_policy == 'max' else 'largest face'} |",
        f"| video score | {'sigmoid of the mean frame logit' if pre.video_aggregation == 'mean_logit' else pre.video_aggregation}"
        f" over {pre.frames_per_video} frames by default |",
        f"| verdict bands | real below {th.real_below}, fake above {th.fake_above} |",
    ]
    if spec is not None:
        lines += [
            f"| source | {spec.source} |",
            f"| licence | {spec.licence} |",
            f"| sha256 | `{spec.sha256 or 'not recorded'}` |",
            "",
            "### Reported metrics",
            *_metrics_lines(spec.metrics),
        ]
    return "\n".join(lines)
