"""Pictures for the demo: heatmaps painted back onto images, boxes, face tiles and the video timeline."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from matplotlib.figure import Figure

from laanet_demo.inference import NOT_JUDGED, FaceView, UnjudgedView, VerdictBands, band_text

VERDICT_COLOURS_RGB: dict[str, tuple[int, int, int]] = {
    "real": (40, 167, 69),
    "uncertain": (255, 170, 0),
    "fake": (220, 40, 40),
    NOT_JUDGED: (150, 150, 150),
}
#: opacity of the heatmap over a face crop: a floor so that a cold map is still visible (blue), plus the heat
HEAT_ALPHA_FLOOR = 0.35
HEAT_ALPHA_GAIN = 0.4
#: how strongly a map is shown when the weights' card has not measured how well it localises blending
UNMEASURED_STRENGTH = 0.35
#: what every heatmap shows, in one sentence (beside each overlay and in the report)
HEATMAP_EXPLAINED = (
    "The heatmap is the network's second output: where in each face crop it puts blending artifacts. Its shape is "
    "stretched to each face's own range and its hottest point takes the colour of the face's fake score on the "
    "scale below, so only a face that scores fake is painted red and a face read real stays blue to green. Read "
    "the raw peak printed with each face for the map's own strength, and the verdict from the score alone."
)


def display_scale(height: int, width: int, max_side: int) -> float:
    """Factor (<= 1) that brings the longer side of an image down to `max_side` pixels."""
    if height < 1 or width < 1 or max_side < 1:
        raise ValueError(f"expected positive sizes, got {height}x{width} and max_side={max_side}")
    return min(1.0, max_side / max(height, width))


def resize_for_display(image: np.ndarray, scale: float) -> np.ndarray:
    """Downscale an RGB image by `scale` (area interpolation); the image itself when scale is 1."""
    if scale >= 1.0:
        return image
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def scaled_matrix(crop_matrix: np.ndarray, scale: float) -> np.ndarray:
    """The image->crop affine for an image that was resized by `scale` before display."""
    m = np.asarray(crop_matrix, dtype=np.float64).reshape(2, 3).copy()
    m[:, :2] /= scale
    return m


def heatmap_to_image(heatmap_crop: np.ndarray, crop_matrix: np.ndarray, height: int, width: int) -> np.ndarray:
    """Paint a crop-space heatmap back into image space: (height, width) float32 in [0, 1], 0 outside the crop.

    `crop_matrix` maps image pixels to crop pixels, so it is used as the inverse map of the warp.
    """
    heat = np.clip(np.asarray(heatmap_crop, dtype=np.float32), 0.0, 1.0)
    if heat.ndim != 2:
        raise ValueError(f"expected a 2-D heatmap, got shape {heat.shape}")
    m = np.asarray(crop_matrix, dtype=np.float64).reshape(2, 3)
    out = cv2.warpAffine(
        heat, m, (int(width), int(height)),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
    )
    return np.clip(out, 0.0, 1.0)


def stretch(heat: np.ndarray) -> np.ndarray:
    """A heatmap stretched to its own range: (h - min) / (max - min), all zeros for a flat map."""
    h = np.asarray(heat, dtype=np.float32)
    lo, hi = (float(h.min()), float(h.max())) if h.size else (0.0, 0.0)
    if hi - lo < 1e-6:
        return np.zeros_like(h)
    return (h - lo) / (hi - lo)


def shown_heat(face: FaceView) -> np.ndarray:
    """The map drawn for a face: its heatmap stretched to its own range (where), times the face's fake score (how
    hot its hottest point is drawn), so that the colours never contradict the verdict: a face read real is never
    painted red, and a face scored fake shows its peak red however weak the raw map is."""
    return stretch(face.heatmap_crop) * float(np.clip(face.prob, 0.0, 1.0))


def colourise(heat: np.ndarray) -> np.ndarray:
    """JET colour map of a [0, 1] heatmap as RGB uint8."""
    h8 = np.clip(np.asarray(heat, dtype=np.float32) * 255.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(h8, cv2.COLORMAP_JET), cv2.COLOR_BGR2RGB)


def blend_heatmap(
    image: np.ndarray, heat: np.ndarray, strength: float = 0.6, region: np.ndarray | None = None,
) -> np.ndarray:
    """Blend a [0, 1] heatmap over an RGB image.

    Without `region` the blend weight is `strength * heat` (cold areas stay clear). With `region` (a [0, 1] map
    of where the heatmap was computed, the face crops) the whole region is coloured, blue where cold, with
    weight `strength * region * (HEAT_ALPHA_FLOOR + HEAT_ALPHA_GAIN * heat) / 0.6`, so that a weak map is visible
    too and a map whose localisation is not measured (`strength` below 0.6) is shown dimmed.
    """
    if image.shape[:2] != heat.shape[:2]:
        heat = cv2.resize(np.asarray(heat, dtype=np.float32), (image.shape[1], image.shape[0]))
    heat = np.clip(heat, 0.0, 1.0)
    if region is None:
        alpha = (heat * strength)[..., None]
    else:
        gain = min(1.0, strength / 0.6)
        alpha = (gain * np.clip(region, 0.0, 1.0) * (HEAT_ALPHA_FLOOR + HEAT_ALPHA_GAIN * heat))[..., None]
    out = image.astype(np.float32) * (1.0 - alpha) + colourise(heat).astype(np.float32) * alpha
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def colour_scale_bar(width: int, height: int = 44) -> np.ndarray:
    """A legend strip for the heatmap colours: each face's map is stretched to its own range and its hottest point
    drawn at the face's fake score, so the ends are labelled by score (never "no artifact"). On a strip
    too narrow for the three labels side by side, the middle one goes on a line of its own below the ends."""
    width = max(int(width), 240)
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.42, 1
    ends, middle = ("score 0", "score 1"), "each face's hottest point at its fake score"
    (mw, th), _ = cv2.getTextSize(middle, font, scale, thick)
    ew = max(cv2.getTextSize(t, font, scale, thick)[0][0] for t in ends)
    x0, x1, top = 10, width - 10, 4
    bottom = height // 2
    one_line = mw + 2 * ew + 24 <= x1 - x0
    line = th + 8
    bar = np.full((height if one_line else height + line, width, 3), 255, np.uint8)
    ramp = np.linspace(0.0, 1.0, x1 - x0, dtype=np.float32)[None, :].repeat(bottom - top, axis=0)
    bar[top:bottom, x0:x1] = colourise(ramp)
    # the middle label, alone on its line, is shrunk to the strip's width where it is wider still
    mid_scale = scale if one_line else scale * min(1.0, 0.9 * (width - 10) / mw)
    labels = [(x0, ends[0], 0, scale), (x1, ends[1], 0, scale),
              ((x0 + x1) // 2, middle, 0 if one_line else line, mid_scale)]
    for x, text, down, s in labels:
        (tw, _), _ = cv2.getTextSize(text, font, s, thick)
        tx = min(max(x - tw // 2, 2), width - tw - 2)
        cv2.putText(bar, text, (tx, bottom + th + 6 + down), font, s, (30, 30, 30), thick, cv2.LINE_AA)
    return bar


def with_colour_scale(image: np.ndarray) -> np.ndarray:
    """`image` with the heatmap colour scale appended below it."""
    bar = colour_scale_bar(image.shape[1])
    if bar.shape[1] != image.shape[1]:
        pad = np.full((image.shape[0], bar.shape[1] - image.shape[1], 3), 255, np.uint8)
        image = np.concatenate([image, pad], axis=1)
    return np.concatenate([image, bar], axis=0)


def _draw_box(out: np.ndarray, box: Sequence[float], text: str, colour: tuple[int, int, int], scale: float) -> None:
    thickness = max(2, round(max(out.shape[:2]) / 400))
    x1, y1, x2, y2 = (int(round(v * scale)) for v in box)
    cv2.rectangle(out, (x1, y1), (x2, y2), colour, thickness)
    font_scale = max(0.5, thickness / 3)
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font_scale, thickness)
    ty = y1 - base - 2 if y1 - th - base - 2 > 0 else y2 + th + 2
    tx = max(0, min(x1, out.shape[1] - tw - 3))  # the label stays whole inside the picture
    cv2.rectangle(out, (tx, ty - th - 2), (tx + tw + 2, ty + base), colour, -1)
    cv2.putText(out, text, (tx + 1, ty), cv2.FONT_HERSHEY_SIMPLEX, font_scale, (255, 255, 255),
                max(1, thickness // 2), cv2.LINE_AA)


def draw_boxes(
    image: np.ndarray, faces: Sequence[FaceView], scale: float = 1.0, unjudged: Sequence[UnjudgedView] = (),
) -> np.ndarray:
    """Copy of `image` with each face's box and "index: score" drawn in its verdict colour, and each face not
    judged in grey, labelled "not judged"."""
    out = np.ascontiguousarray(image.copy())
    for u in unjudged:
        _draw_box(out, u.box, NOT_JUDGED, VERDICT_COLOURS_RGB[NOT_JUDGED], scale)
    for face in faces:
        if face.box is not None:
            _draw_box(out, face.box, f"{face.index}: {face.prob:.2f}", VERDICT_COLOURS_RGB[face.verdict], scale)
    return out


def overlay_image(
    image: np.ndarray, faces: Sequence[FaceView], max_side: int = 1600, unjudged: Sequence[UnjudgedView] = (),
    strength: float = UNMEASURED_STRENGTH,
) -> np.ndarray:
    """The whole image (downscaled for display) with every face's heatmap (as `shown_heat` draws it) blended
    in at `strength`, its box drawn, and the heatmap colour scale below."""
    h, w = image.shape[:2]
    scale = display_scale(h, w, max_side)
    return with_colour_scale(overlay_scaled(resize_for_display(image, scale), faces, scale, unjudged, strength))


def overlay_scaled(
    small: np.ndarray, faces: Sequence[FaceView], scale: float, unjudged: Sequence[UnjudgedView] = (),
    strength: float = UNMEASURED_STRENGTH,
) -> np.ndarray:
    """Like `overlay_image` for an image already resized by `scale` (face geometry is in original pixels),
    without the colour scale."""
    heat = face_heat_layers(faces, small.shape[0], small.shape[1], scale)
    regions = face_regions(faces, small.shape[0], small.shape[1], scale)
    combined = np.max(np.stack(heat), axis=0) if heat else np.zeros(small.shape[:2], np.float32)
    region = np.max(np.stack(regions), axis=0) if regions else np.zeros(small.shape[:2], np.float32)
    return draw_boxes(blend_heatmap(small, combined, strength=strength, region=region), faces, scale, unjudged)


def face_heat_layers(faces: Sequence[FaceView], height: int, width: int, scale: float) -> list[np.ndarray]:
    """One image-space heatmap per face (for faces that carry a crop matrix), as `shown_heat` draws it, at display
    size."""
    layers = []
    for face in faces:
        if face.crop_matrix is None:
            continue
        layers.append(heatmap_to_image(shown_heat(face), scaled_matrix(face.crop_matrix, scale),
                                       height, width))
    return layers


def face_regions(faces: Sequence[FaceView], height: int, width: int, scale: float) -> list[np.ndarray]:
    """Where each face's heatmap was computed (its crop), as a [0, 1] map at display size."""
    return [
        heatmap_to_image(np.ones_like(face.heatmap_crop), scaled_matrix(face.crop_matrix, scale), height, width)
        for face in faces if face.crop_matrix is not None
    ]


def text_band(lines: Sequence[str], width: int, colour: tuple[int, int, int] = (30, 30, 30)) -> np.ndarray:
    """White strip with lines of text, for captions that must stay whole whatever the page does with a picture."""
    font, scale, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1
    line_h = 22
    band = np.full((line_h * len(lines) + 8, width, 3), 255, np.uint8)
    for i, text in enumerate(lines):
        while text and cv2.getTextSize(text, font, scale, thick)[0][0] > width - 12:
            scale -= 0.02
            if scale < 0.34:
                break
        cv2.putText(band, text, (6, line_h * (i + 1) - 4), font, max(scale, 0.34), colour, thick, cv2.LINE_AA)
        scale = 0.5
    return band


def face_tile(face: FaceView, size: int = 256, strength: float = UNMEASURED_STRENGTH) -> np.ndarray:
    """The face crop and the same crop with its heatmap (as `shown_heat` draws it, blended at `strength`), side
    by side, each `size` pixels square, with the face's number, verdict, score and raw heatmap peak written
    below."""
    if face.crop is None:
        raise ValueError("this face has no crop to show")
    crop = cv2.resize(face.crop, (size, size), interpolation=cv2.INTER_AREA)
    heat = cv2.resize(shown_heat(face), (size, size), interpolation=cv2.INTER_LINEAR)
    # the whole map is shown (blue = lowest, the peak at the face's score), as the official visualisation does,
    # so that a weak map is still visible next to the crop; dimmed when its localisation is not measured
    a = 0.5 * min(1.0, strength / 0.6) + 0.15
    shown = ((1 - a) * crop.astype(np.float32) + a * colourise(heat).astype(np.float32) + 0.5).astype(np.uint8)
    tile = np.concatenate([crop, shown], axis=1)
    colour = VERDICT_COLOURS_RGB[face.verdict]
    cv2.rectangle(tile, (0, 0), (tile.shape[1] - 1, tile.shape[0] - 1), colour, 4)
    band = text_band([f"face {face.index}: {face.verdict}, score {face.prob:.3f}",
                      f"heatmap raw peak {face.heat_peak:.2f} (peak drawn at the score)"], tile.shape[1])
    return np.concatenate([tile, band], axis=0)


def frame_tile(frame: np.ndarray, face: FaceView | None, height: int = 300) -> np.ndarray:
    """A video frame (with its boxes and heatmaps already drawn) beside the crop of its most fake face, both
    `height` pixels high, so that the face is seen at a readable size."""
    h, w = frame.shape[:2]
    small = cv2.resize(frame, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA)
    if face is None or face.crop is None:
        return small
    crop = cv2.resize(face.crop, (height, height), interpolation=cv2.INTER_AREA)
    cv2.rectangle(crop, (0, 0), (height - 1, height - 1), VERDICT_COLOURS_RGB[face.verdict], 4)
    gap = np.full((height, 6, 3), 255, np.uint8)
    return np.concatenate([crop, gap, small], axis=1)


def person_tile(crop: np.ndarray, verdict: str, size: int = 192) -> np.ndarray:
    """A person's thumbnail: their face crop with a border in their verdict colour."""
    crop = np.asarray(crop)
    interpolation = cv2.INTER_AREA if crop.shape[0] >= size else cv2.INTER_CUBIC
    tile = cv2.resize(crop, (size, size), interpolation=interpolation)
    cv2.rectangle(tile, (0, 0), (size - 1, size - 1), VERDICT_COLOURS_RGB[verdict], 4)
    return tile


def face_caption(face: FaceView, bands: VerdictBands | None = None) -> str:
    """Gallery caption of a face: index, verdict and score, with the band the score falls in when `bands` is
    given (so that the word and the number cannot seem to disagree)."""
    text = f"face {face.index} · {face.verdict} · {face.prob:.3f}"
    return text if bands is None else f"{text} ({band_text(face.prob, bands)})"


def timeline_figure(
    frame_numbers: Sequence[int],
    face_probs: Sequence[Sequence[float]],
    frame_probs: Sequence[float | None],
    bands: VerdictBands,
    video_prob: float | None,
    rule: str,
    people: Sequence[tuple[str, Sequence[tuple[int, float]]]] = (),
) -> Figure:
    """Per-frame, per-face fake probabilities over the video, with the verdict bands shaded.

    `face_probs[i]` holds every face's probability in sampled frame i (possibly none), `frame_probs[i]` the
    frame's score by the weight's rule (None without a face). `people` adds one line per person: a label
    and that person's (frame number, probability) timeline.
    """
    if not (len(frame_numbers) == len(face_probs) == len(frame_probs)):
        raise ValueError("frame_numbers, face_probs and frame_probs must have the same length")
    fig = Figure(figsize=(8, 3.2), dpi=100, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    ax.axhspan(0.0, bands.real_below, color="#28a745", alpha=0.10, lw=0)
    ax.axhspan(bands.real_below, bands.fake_above, color="#ffaa00", alpha=0.12, lw=0)
    ax.axhspan(bands.fake_above, 1.0, color="#dc2828", alpha=0.10, lw=0)
    xs, ys = [], []
    for n, probs in zip(frame_numbers, face_probs, strict=True):
        xs.extend([n] * len(probs))
        ys.extend(probs)
    if xs:
        ax.scatter(xs, ys, s=14, color="#555555", alpha=0.6, label="each face")
    line_x = [n for n, p in zip(frame_numbers, frame_probs, strict=True) if p is not None]
    line_y = [p for p in frame_probs if p is not None]
    if line_x:
        ax.plot(line_x, line_y, marker="o", ms=4, lw=1.5, color="#1f4e9c", label="frame score")
    no_face = [n for n, p in zip(frame_numbers, frame_probs, strict=True) if p is None]
    if no_face:
        ax.scatter(no_face, [0.0] * len(no_face), marker="x", color="#999999", label="no face")
    for label, timeline in people:
        if timeline:
            px, py = zip(*timeline, strict=True)
            ax.plot(px, py, marker=".", ms=3, lw=1, alpha=0.8, label=label)
    if video_prob is not None:
        ax.axhline(video_prob, color="#1f4e9c", ls="--", lw=1, label=f"video {video_prob:.3f}")
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("frame")
    ax.set_ylabel("fake score")
    ax.set_title(rule, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=7)
    return fig
