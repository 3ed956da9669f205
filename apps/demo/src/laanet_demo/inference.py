"""Pure functions that turn Detector outputs into what the demo and the CLI show: verdicts, rows, summaries."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from laanet_model.scoring import sigmoid
from laanet_model.video import PERSON_RULE
from laanet_model.weights import Thresholds

__all__ = [
    "FACE_COLUMNS", "NOT_JUDGED", "FaceView", "PERSON_RULE", "UnjudgedView", "VerdictBands", "band_text",
    "face_record", "face_rows", "label_value", "most_suspicious", "person_record", "sigmoid", "thumbnail_data_url",
    "unjudged_record", "verdict_markdown",
]

#: the verdict of a face found but not scored (too small for the recipe, or too unsure a detection)
NOT_JUDGED = "not judged"


#: the verdict bands of a weight card ("real" below `real_below`, "fake" above `fake_above`, "uncertain"
#: in between): the model's own `Thresholds`, so the demo and the model cannot disagree on them
VerdictBands = Thresholds


@dataclass(frozen=True)
class FaceView:
    """One scored face, ready to show: 1-based index, numbers and the arrays needed to draw it."""

    index: int
    prob: float
    logit: float
    verdict: str
    box: tuple[float, float, float, float] | None
    heatmap_crop: np.ndarray
    crop: np.ndarray | None
    crop_matrix: np.ndarray | None

    @property
    def area(self) -> float:
        """Box area in image pixels (0 without a box)."""
        from laanet_synth.boxes import box_area

        return box_area(self.box)

    @property
    def heat_peak(self) -> float:
        """Largest value of the artifact heatmap."""
        return float(np.max(self.heatmap_crop)) if self.heatmap_crop.size else 0.0


@dataclass(frozen=True)
class UnjudgedView:
    """A face found but not scored, with the reason in plain words."""

    box: tuple[float, float, float, float]
    reason: str


def band_text(prob: float, bands: VerdictBands) -> str:
    """The band a score falls in, stated with its thresholds, so the verdict word and the number agree."""
    verdict = bands.verdict(prob)
    if verdict == "fake":
        return f"fake above {bands.fake_above:.3g}"
    if verdict == "real":
        return f"real below {bands.real_below:.3g}"
    return f"uncertain from {bands.real_below:.3g} to {bands.fake_above:.3g}"


def label_value(prob: float | None, bands: VerdictBands, unjudged: int = 0) -> str:
    """The `gr.Label` text: the verdict, the model's score and the band it falls in, e.g.
    "fake · score 0.149 (fake above 0.097)"."""
    if prob is None:
        return NOT_JUDGED if unjudged else "no face"
    return f"{bands.verdict(prob)} · score {prob:.3f} ({band_text(prob, bands)})"


def face_rows(faces: Sequence[FaceView], unjudged: Sequence[UnjudgedView] = ()) -> list[list[Any]]:
    """Table rows, one per face (judged faces first, in their order, then the faces not judged): index, score,
    verdict, logit, heatmap peak, box (rounded), note."""
    rows = []
    for f in faces:
        box = "" if f.box is None else ", ".join(f"{v:.0f}" for v in f.box)
        rows.append([f.index, round(f.prob, 4), f.verdict, round(f.logit, 4), round(f.heat_peak, 3), box, ""])
    for u in unjudged:
        rows.append(["", None, NOT_JUDGED, None, None, ", ".join(f"{v:.0f}" for v in u.box), u.reason])
    return rows


FACE_COLUMNS = ["face", "score", "verdict", "logit", "heatmap peak", "box (x1, y1, x2, y2)", "note"]


def face_record(face: FaceView) -> dict[str, Any]:
    """JSON-ready description of one face."""
    return {
        "face": face.index,
        "prob": round(face.prob, 6),
        "logit": round(face.logit, 6),
        "verdict": face.verdict,
        "heatmap_peak": round(face.heat_peak, 4),
        "box": None if face.box is None else [round(v, 1) for v in face.box],
    }


def thumbnail_data_url(image: np.ndarray | None, size: int = 64) -> str | None:
    """A small JPEG of an RGB crop as a ``data:image/jpeg;base64,...`` URL (None without a crop)."""
    if image is None:
        return None
    import base64

    import cv2

    small = cv2.resize(np.asarray(image), (size, size), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii") if ok else None


def person_record(person: Any) -> dict[str, Any]:
    """JSON-ready description of one person of a video (a ``laanet_demo.analysis.PersonAnalysis``):
    score, verdict, timeline and a 64 px thumbnail with the frame and box it was cut from."""
    return {
        "person": person.person,
        "prob": round(person.prob, 6),
        "verdict": person.verdict,
        "n_frames": len(person.timeline),
        "timeline": [{"frame": n, "prob": round(q, 6)} for n, q in person.timeline],
        "thumbnail": {"frame": person.thumbnail_frame, "box": [round(v, 1) for v in person.thumbnail_box],
                      "jpeg": thumbnail_data_url(person.thumbnail)},
    }


def most_suspicious(frame_probs: Sequence[float | None], k: int) -> list[int]:
    """Indices of the `k` highest frame scores (frames without a face never count), highest first."""
    scored = [(p, i) for i, p in enumerate(frame_probs) if p is not None]
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [i for _, i in scored[: max(0, k)]]


def unjudged_record(face: UnjudgedView) -> dict[str, Any]:
    """JSON-ready description of a face that was found but not judged."""
    return {"verdict": NOT_JUDGED, "reason": face.reason, "box": [round(v, 1) for v in face.box]}


def verdict_markdown(
    prob: float | None, bands: VerdictBands, what: str, rule: str, n_faces: int,
    unjudged: Sequence[UnjudgedView] = (), limits: str = "",
) -> str:
    """A short Markdown verdict: the verdict word, the score with its band, how the number was made, the faces
    not judged and why, and the model's measured limits."""
    if prob is None:
        if not unjudged:
            return f"**No face found** in this {what}, so there is no score."
        head = (f"### {what.capitalize()} verdict: **{NOT_JUDGED}**\n\n"
                f"{len(unjudged)} face{'s were' if len(unjudged) != 1 else ' was'} found, but none could be judged: "
                f"{unjudged[0].reason}.")
        return head + (f"\n\n{limits}" if limits else "")
    verdict = bands.verdict(prob)
    text = (
        f"### {what.capitalize()} verdict: **{verdict}** (score {prob:.3f}, {band_text(prob, bands)})\n\n"
        f"{n_faces} face{'s' if n_faces != 1 else ''} scored. The score is the model's output from 0 to 1, not a "
        f"calibrated probability. Aggregation: {rule}. Bands: {bands.describe()}."
    )
    if unjudged:
        text += (f"\n\n{len(unjudged)} more face{'s' if len(unjudged) != 1 else ''} not judged "
                 f"({unjudged[0].reason}); they count in no score.")
    return text + (f"\n\n{limits}" if limits else "")
