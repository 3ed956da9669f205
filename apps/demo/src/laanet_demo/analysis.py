"""Scoring one image or one video file through a Detector: the work shared by the app and the CLI."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from laanet_demo.inference import FaceView, UnjudgedView, VerdictBands, most_suspicious, sigmoid
from laanet_demo.limits import DemoLimits, InputRejected, check_file, check_image_header, check_video_budget
from laanet_demo.render import display_scale, resize_for_display

ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class ImageAnalysis:
    """Every face of one image and the image's score by the weight's frame rule (``prob``, ``None`` without a
    judged face); ``no_face_prob`` is what the recipe's no-face rule gives an image with no judged face
    (``None`` when it has one or the rule gives no score), and :attr:`score` whichever of the two there is."""

    image: np.ndarray
    faces: list[FaceView]
    n_faces_found: int
    prob: float | None
    timings_ms: dict[str, float]
    unjudged: list[UnjudgedView] = field(default_factory=list)
    no_face_prob: float | None = None

    @property
    def score(self) -> float | None:
        """The image's score under the whole recipe: its judged faces' score, else the no-face rule's."""
        return self.no_face_prob if self.prob is None else self.prob


@dataclass(frozen=True)
class FrameAnalysis:
    """One sampled video frame: its number, its faces, its score, and a display-size copy of the pixels."""

    frame_number: int
    faces: list[FaceView]
    prob: float | None
    logit: float | None
    display: np.ndarray
    display_scale: float
    unjudged: list[UnjudgedView] = field(default_factory=list)


@dataclass(frozen=True)
class PersonAnalysis:
    """One person linked across the sampled frames: their score by the video rule over their own faces,
    a thumbnail (their largest face's crop) and a timeline (frame number, fake probability)."""

    person: int
    prob: float
    verdict: str
    timeline: list[tuple[int, float]]
    thumbnail: np.ndarray | None
    thumbnail_frame: int
    thumbnail_box: tuple[float, float, float, float]


@dataclass(frozen=True)
class VideoAnalysis:
    """The sampled frames of one video, the video score by the weight's video rule (``prob``, ``None`` when no
    frame has a judged face), and each person's score; ``no_face_prob`` is what the recipe's no-face rule gives
    a video none of whose frames has a judged face, and :attr:`score` whichever of the two there is."""

    frames: list[FrameAnalysis]
    n_frames_total: int | None
    prob: float | None
    timings_ms: dict[str, float] = field(default_factory=dict)
    people: list[PersonAnalysis] = field(default_factory=list)
    no_face_prob: float | None = None

    @property
    def score(self) -> float | None:
        """The video's score under the whole recipe: its judged faces' score, else the no-face rule's."""
        return self.no_face_prob if self.prob is None else self.prob

    @property
    def n_faces(self) -> int:
        return sum(len(f.faces) for f in self.frames)

    @property
    def unjudged(self) -> list[UnjudgedView]:
        """Every face of every sampled frame that was found but not judged."""
        return [u for f in self.frames for u in f.unjudged]


def to_face_views(faces: Sequence[Any], bands: VerdictBands, max_faces: int) -> list[FaceView]:
    """Detector face predictions -> FaceView, keeping at most `max_faces` (the largest when there are more),
    ordered by score, most fake first, and numbered in that order."""
    views = []
    for f in faces:
        box = None if getattr(f, "box", None) is None else tuple(float(v) for v in np.asarray(f.box).reshape(4))
        heat = getattr(f, "heatmap_crop", None)
        if heat is None:
            heat = f.heatmap
        heat = np.asarray(heat, dtype=np.float32)
        heat = heat.reshape(heat.shape[-2:])
        prob = float(f.prob)
        views.append(FaceView(
            index=0, prob=prob, logit=float(f.logit), verdict=bands.verdict(prob), box=box,
            heatmap_crop=heat, crop=getattr(f, "crop", None),
            crop_matrix=None if getattr(f, "crop_matrix", None) is None else np.asarray(f.crop_matrix),
        ))
    if len(views) > max_faces:
        views = sorted(views, key=lambda v: -v.area)[:max_faces]
    views.sort(key=lambda v: -v.logit)
    return [dataclasses.replace(v, index=i + 1) for i, v in enumerate(views)]


def to_unjudged_views(prediction: Any) -> list[UnjudgedView]:
    """The faces a detector found but did not judge (too small, or found less surely than the recipe allows), with
    their reasons."""
    return [
        UnjudgedView(box=tuple(float(v) for v in np.asarray(u.box).reshape(4)), reason=str(u.reason))
        for u in getattr(prediction, "not_judged", [])
    ]


def bands_for(detector: Any) -> VerdictBands:
    """The verdict bands from the detector's weight card."""
    return detector.thresholds


def frame_rule_for(detector: Any) -> str:
    """Name of the weight's frame rule: "max" (highest-scoring face) or "largest" (largest face)."""
    return str(detector.preprocessing.frame_policy)


def person_views(people: Sequence[Any], bands: VerdictBands) -> list[PersonAnalysis]:
    """``laanet_model.video.PersonTrack`` list -> what the demo and the CLI show for each person."""
    return [
        PersonAnalysis(
            person=p.person, prob=float(p.prob), verdict=bands.verdict(float(p.prob)),
            timeline=[(int(n), float(q)) for n, q in zip(p.frame_numbers, p.probs, strict=True)],
            thumbnail=p.thumbnail, thumbnail_frame=int(p.thumbnail_frame),
            thumbnail_box=tuple(float(v) for v in np.asarray(p.thumbnail_box).reshape(4)),
        )
        for p in people
    ]


NO_FACE_WORDS = {
    "no_score": "no score",
    "chance": "0.5 (chance)",
    "whole_image": "the whole image scored as one face",
}


def no_face_rule_for(detector: Any) -> str:
    """Plain words for what the weight's recipe gives an image with no judged face (``Preprocessing.no_face``)."""
    rule = str(getattr(detector.preprocessing, "no_face", "no_score"))
    return NO_FACE_WORDS.get(rule, rule)


def describe_rules(detector: Any) -> str:
    """Plain-words statement of how face scores become frame and video scores."""
    frame = "highest-scoring face" if frame_rule_for(detector) == "max" else "largest face"
    video = detector.preprocessing.video_aggregation
    rule = "sigmoid(mean of frame logits)" if video == "mean_logit" else str(video)
    return f"frame score = {frame}; video score = {rule}; no face judged = {no_face_rule_for(detector)}"


def frames_for(detector: Any, n_frames: int | None) -> int:
    """``n_frames``, or the weight's recipe's ``frames_per_video`` when it is ``None``."""
    return int(detector.preprocessing.frames_per_video) if n_frames is None else int(n_frames)


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
    prob = pred.prob()  # over every judged face found, also those beyond the `max_faces` shown
    timings = {"decode": round(decode_ms, 1), "detect_align_infer": round((t2 - t1) * 1000.0, 1)}
    no_face = getattr(pred, "no_face_logit", None)
    return ImageAnalysis(
        image=image, faces=faces, n_faces_found=len(pred.faces), prob=prob, timings_ms=timings,
        unjudged=to_unjudged_views(pred), no_face_prob=None if prob is not None or no_face is None else sigmoid(no_face),
    )


def analyse_video(
    detector: Any, path: str | Path, n_frames: int | None, limits: DemoLimits,
    progress: ProgressFn | None = None, display_max_side: int = 960, *, max_pixels: int | None = None,
) -> VideoAnalysis:
    """Sample `n_frames` (``None``: the weight's recipe's ``frames_per_video``) evenly spaced frames of a video
    file and score every face in them. `max_pixels` bounds the frames decoded (frames x width x height; `None`:
    `limits.max_video_pixels`), checked from the container's metadata before decoding and by the decoder."""
    from laanet_synth.video import VideoReadError, VideoTooLargeError, read_frames, video_info

    n_frames = frames_for(detector, n_frames)
    if not limits.min_video_frames <= n_frames <= limits.max_video_frames:
        raise InputRejected(
            f"Frames to sample must be between {limits.min_video_frames} and {limits.max_video_frames}, "
            f"got {n_frames}."
        )
    check_file(path, limits.max_video_bytes, "video")
    t0 = time.perf_counter()
    try:
        info = video_info(path)
        budget = limits.max_video_pixels if max_pixels is None else max_pixels
        check_video_budget(info.n_frames or 0, info.width, info.height, n_frames, limits, budget)
        n_total = info.n_frames or None
        frames = read_frames(path, n_frames, max_pixels=budget)
    except VideoTooLargeError as err:
        raise InputRejected(f"The video is too large to analyse: {str(err).removeprefix(f'{path}: ')}.") from err
    except VideoReadError as err:
        raise InputRejected(
            "The video could not be decoded: it is corrupt, truncated or in a format this server cannot read."
        ) from err
    if len(frames) < limits.min_video_frames:
        raise InputRejected(
            f"The video has only {len(frames)} decodable frame{'s' if len(frames) != 1 else ''}; a video needs at "
            f"least {limits.min_video_frames}. For a single still, use the Image tab."
        )
    from laanet_synth.stages import StageTimer

    timer = StageTimer({"decode": time.perf_counter() - t0})
    bands = bands_for(detector)
    t1 = time.perf_counter()
    pred = detector.predict_video(frames, progress=progress, timer=timer)
    out: list[FrameAnalysis] = []
    for (number, frame), frame_pred, logit in zip(frames, pred.frames, pred.frame_logits, strict=True):
        faces = to_face_views(frame_pred.faces, bands, limits.max_faces)
        scale = display_scale(frame.shape[0], frame.shape[1], display_max_side)
        out.append(FrameAnalysis(
            frame_number=int(number), faces=faces, logit=logit,
            prob=None if logit is None else sigmoid(logit),
            display=resize_for_display(frame, scale), display_scale=scale,
            unjudged=to_unjudged_views(frame_pred),
        ))
    infer_ms = (time.perf_counter() - t1) * 1000.0
    judged = any(f.faces for f in pred.frames)
    return VideoAnalysis(
        frames=out, n_frames_total=n_total, prob=pred.prob if judged else None,
        no_face_prob=None if judged else pred.prob,
        timings_ms={**pred.timings_ms, "detect_align_infer": round(infer_ms, 1),
                    "per_frame": round(infer_ms / len(out), 1)},
        people=person_views(pred.people, bands),
    )


def most_suspicious_frames(result: VideoAnalysis, k: int) -> list[FrameAnalysis]:
    """The `k` frames with the highest scores, highest first."""
    return [result.frames[i] for i in most_suspicious([f.prob for f in result.frames], k)]


def _spec_name(detector: Any) -> str:
    spec = getattr(detector, "spec", None)
    return spec.name if spec is not None else "custom weights (no card)"


def _card_metrics(detector: Any) -> dict[str, Any]:
    spec = getattr(detector, "spec", None)
    metrics = getattr(spec, "metrics", None)
    return metrics if isinstance(metrics, dict) else {}


def _metric(metrics: dict[str, Any], group: str, key: str) -> Any:
    entry = metrics.get(group)
    return entry.get(key) if isinstance(entry, dict) else None


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def measured_limits(detector: Any) -> dict[str, Any]:
    """The model's measured limits from its weights card (None where not measured): the fraction of real photos
    it calls fake, with the protocol it was measured under, its frame AUC on DFDC face crops, how many of the
    clips its source labels fake it calls fake, and its frame AUC and share called fake on real face swaps."""
    metrics = _card_metrics(detector)
    return {
        "real_photo_false_positive_rate": _metric(metrics, "real_photos", "false_positive_rate"),
        "real_photo_called_fake": _metric(metrics, "real_photos", "called_fake"),
        "real_photo_n": _metric(metrics, "real_photos", "n"),
        "real_photo_protocol": _metric(metrics, "real_photos", "protocol"),
        "dfdc_frame_auc": _metric(metrics, "dfdc_crops", "auc"),
        "fake_clips_called_fake": _metric(metrics, "fake_clips", "called_fake"),
        "fake_clips_n": _metric(metrics, "fake_clips", "n"),
        "real_swap_auc": _metric(metrics, "real_swaps", "auc"),
        "real_swap_fakes_called_fake": _metric(metrics, "real_swaps", "fakes_called_fake"),
        "real_swap_n_fake": _metric(metrics, "real_swaps", "n_fake"),
    }


LIMITS_HEADING = "Measured limits of this model:"


def limits_sentences(limits: dict[str, Any]) -> list[str]:
    """The measured limits as two or three short plain sentences ("not measured" where the card lacks a figure)."""
    fpr, called, n = (limits.get("real_photo_false_positive_rate"), limits.get("real_photo_called_fake"),
                      limits.get("real_photo_n"))
    if _is_number(fpr):
        tested = f" ({called} of {n} tested)" if isinstance(called, int) and isinstance(n, int) and n else ""
        first = f"It calls about {100 * fpr:.0f} in 100 real photos fake{tested}."
    else:
        first = "How often it calls real photos fake: not measured."
    auc = limits.get("dfdc_frame_auc")
    c_called, c_n = limits.get("fake_clips_called_fake"), limits.get("fake_clips_n")
    clips = (f"it called {c_called} of {c_n} fake DFDC clips fake" if isinstance(c_called, int)
             and isinstance(c_n, int) and c_n else "fake DFDC clips called fake: not measured")
    if _is_number(auc):
        strength = "only a little better than chance" if auc < 0.75 else "fairly well" if auc < 0.9 else "well"
        second = f"On faces from DFDC videos it tells real from fake {strength} (AUC {auc:.2f}), and {clips}."
    else:
        second = f"On faces from DFDC videos: not measured; {clips}."
    s_auc, s_share, s_n = (limits.get("real_swap_auc"), limits.get("real_swap_fakes_called_fake"),
                           limits.get("real_swap_n_fake"))
    if _is_number(s_auc) and _is_number(s_share) and isinstance(s_n, int) and s_n:
        strength = "close to chance" if s_auc < 0.65 else "weakly" if s_auc < 0.8 else "fairly well"
        third = (f"It separates real face swaps from public tools {strength} (AUC {s_auc:.2f}; it called "
                 f"{round(s_share * s_n)} of {s_n} fake): a score is a hint, not proof.")
    else:
        third = "A score is a hint, not proof."
    return [first, second, third]


def limits_markdown(limits: dict[str, Any]) -> str:
    """The measured limits shown beside every verdict: a heading and two or three short sentences."""
    return f"**{LIMITS_HEADING}** " + " ".join(limits_sentences(limits))


def heatmap_localisation(detector: Any) -> tuple[float, str]:
    """How strongly to show the heatmaps, and one sentence saying why.

    When the card's metrics hold `heatmap_localisation` (per data set, e.g. `{"sbi": {"peak_in_blend": 0.62}}`),
    the map is shown as strongly as the weakest such figure supports and the figure is stated; otherwise it is
    shown dimmed and "localisation not measured" is said.
    """
    from laanet_demo.render import UNMEASURED_STRENGTH

    entry = _card_metrics(detector).get("heatmap_localisation")
    figures = []
    chance: dict[str, float] = {}
    if isinstance(entry, dict):
        for name, value in entry.items():
            if isinstance(value, dict) and _is_number(value.get("peak_in_blend")):
                figures.append((name, float(value["peak_in_blend"])))
                if _is_number(value.get("chance")):
                    chance[name] = float(value["chance"])
            elif name == "peak_in_blend" and _is_number(value):
                figures.append(("", float(value)))
    if not figures:
        return UNMEASURED_STRENGTH, ("Heatmap localisation not measured for these weights: the map is shown "
                                     "dimmed.")
    name, worst = min(figures, key=lambda t: t[1])
    where = f" on held-out {name.upper()} fakes" if name else ""
    strength = float(min(1.0, max(0.15, worst)))
    by_chance = f" (a point picked at random: {100 * chance[name]:.0f}%)" if name in chance else ""
    return strength, (f"Heatmap localisation measured{where}: the map's peak falls inside the blended region in "
                      f"{100 * worst:.0f}% of fakes{by_chance}, so it is shown at that strength.")


def weights_sha256(detector: Any) -> str | None:
    """The sha256 of the detector's weights file, when known."""
    spec = getattr(detector, "spec", None)
    return None if spec is None else spec.sha256


def weights_line(detector: Any) -> str:
    """The weights in a few words: name and the start of their sha256."""
    sha = weights_sha256(detector)
    return f"{_spec_name(detector)}" + (f" (sha256 {sha[:12]}…)" if sha else "")


def model_summary(detector: Any) -> dict[str, Any]:
    """Short JSON description of the detector's weights: name, architecture, recipe, rules, thresholds."""
    spec = getattr(detector, "spec", None)
    pre = detector.preprocessing
    return {
        "name": _spec_name(detector),
        "sha256": weights_sha256(detector),
        "variant": None if spec is None else spec.variant,
        "face_detector": pre.face_detector,
        "crop_recipe": pre.crop.name,
        "input_size": pre.input_size,
        "flip_test": pre.flip_test,
        "frame_policy": pre.frame_policy,
        "video_aggregation": pre.video_aggregation,
        "min_face_size": getattr(pre, "min_face_size", None),
        "min_face_score": getattr(pre, "min_face_score", None),
        "thresholds": {"real_below": detector.thresholds.real_below, "fake_above": detector.thresholds.fake_above},
        "measured_limits": measured_limits(detector),
    }


def _face_score_text(min_face_score: float | None) -> str:
    if min_face_score is None:
        return "every face found"
    return f"face-finder confidence {min_face_score:.3g} (less sure detections are shown as not judged)"


def _flat(entry: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """A metric entry's scalar figures as (name, value), nested entries flattened ("sbi auc")."""
    out: list[tuple[str, Any]] = []
    for key, value in entry.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out += _flat(value, f"{name} ")
        elif isinstance(value, (list, tuple)):
            continue
        else:
            out.append((name, value))
    return out


def _cell(value: Any) -> str:
    if _is_number(value) and isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "/").replace("\n", " ")


def _metrics_lines(metrics: dict[str, Any]) -> list[str]:
    """The reported metrics as one short two-column table per data set, its protocol folded below it."""
    lines: list[str] = []
    notes = [f"{k}: {v}" for k, v in metrics.items() if not isinstance(v, dict)]
    if notes:
        lines += [*("- " + n for n in notes), ""]
    for name, entry in metrics.items():
        if not isinstance(entry, dict):
            continue
        figures = [(k, v) for k, v in _flat(entry) if not k.endswith("protocol")]
        protocols = [str(v) for k, v in _flat(entry) if k.endswith("protocol")]
        lines += [f"**{name}**", "", "| measure | value |", "|---|---|"]
        lines += [f"| {k} | {_cell(v)} |" for k, v in figures]
        if protocols:
            lines += ["", f"<details><summary>how {name} was measured</summary>", "", *protocols, "", "</details>"]
        lines.append("")
    return lines or ["No metrics reported for these weights."]


def card_markdown(detector: Any, source: str) -> str:
    """The weight card as compact Markdown: what the model is, its bands, licence, sha256 and measured limits up
    front; its recipe and each data set's metrics folded below."""
    spec = getattr(detector, "spec", None)
    pre = detector.preprocessing
    th = detector.thresholds
    crop = pre.crop
    lines = [
        f"## {_spec_name(detector)}",
        f"*Loaded from: {source}*",
        "",
        "| | |",
        "|---|---|",
        f"| architecture | `{'unknown' if spec is None else spec.variant}` |",
        f"| verdict bands | real below {th.real_below}, fake above {th.fake_above} |",
    ]
    if spec is not None:
        lines += [
            f"| licence | {spec.licence} |",
            f"| sha256 | `{spec.sha256 or 'not recorded'}` |",
            "",
            limits_markdown(measured_limits(detector)),
            "",
            heatmap_localisation(detector)[1],
        ]
    lines += [
        "",
        "<details><summary>Description, recipe and rules</summary>",
        "",
        "" if spec is None else spec.description,
        "",
        "| | |",
        "|---|---|",
        f"| face detector | {pre.face_detector}" + (f" (authors used: {pre.reference_detector})" if pre.reference_detector
                                                   else "") + " |",
        f"| crop recipe | `{crop.name}`: margin {crop.margin}, crop {crop.crop_size} px, border trim "
        f"{crop.border_trim} px, input {crop.input_size} px |",
        f"| normalisation | mean {tuple(pre.mean)}, std {tuple(pre.std)} |",
        f"| flip test | {'yes (mean of the two logits)' if pre.flip_test else 'no'} |",
        f"| frame score | {'highest-scoring face' if pre.frame_policy == 'max' else 'largest face'} |",
        f"| video score | {'sigmoid of the mean frame logit' if pre.video_aggregation == 'mean_logit' else pre.video_aggregation}"
        f" over {pre.frames_per_video} frames by default |",
        f"| no face judged | {no_face_rule_for(detector)} |",
        f"| smallest face judged | {getattr(pre, 'min_face_size', 0)} px box width |",
        f"| least sure detection judged | {_face_score_text(getattr(pre, 'min_face_score', None))} |",
    ]
    if spec is not None:
        lines += [f"| source | {spec.source} |"]
    lines += ["", "</details>", ""]
    if spec is not None:
        lines += ["### Reported metrics", "", "<details><summary>Every data set, one short table each</summary>", "",
                  *_metrics_lines(spec.metrics), "</details>"]
    return "\n".join(lines)
