"""A video's verdict from its sampled frames: the clip score by the recipe's rule and a score per person."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .detector import ImagePrediction
from .scoring import clip_score, sigmoid, video_score

__all__ = ["PersonTrack", "VideoPrediction", "build_video_prediction", "clip_rule", "PERSON_RULE"]

#: how a person's score is made (the clip's video rule over the person's own faces)
PERSON_RULE = "person score = sigmoid(mean of the logits of that person's faces over the sampled frames)"


def clip_rule(frame_policy: str) -> str:
    """Plain words for the clip score under ``frame_policy`` (``"max"`` or ``"largest"``)."""
    face = "the most fake face" if frame_policy == "max" else "the largest face"
    return f"clip score = sigmoid(mean over frames of the logit of {face} in each frame)"


@dataclass(frozen=True, eq=False)
class PersonTrack:
    """One person linked across the sampled frames.

    ``faces`` lists ``(sample index, face index)`` into :attr:`VideoPrediction.frames`, in frame order;
    ``frame_numbers`` and ``logits`` go with them; ``prob`` is the sigmoid of the mean logit. The thumbnail
    is the network crop of the person's largest face (``thumbnail_frame``, ``thumbnail_box``).
    """

    person: int
    faces: list[tuple[int, int]]
    frame_numbers: list[int]
    logits: list[float]
    prob: float
    thumbnail: np.ndarray | None
    thumbnail_frame: int
    thumbnail_box: np.ndarray

    @property
    def probs(self) -> list[float]:
        """The fake probability of each of the person's faces (the timeline)."""
        return [sigmoid(v) for v in self.logits]


@dataclass(frozen=True, eq=False)
class VideoPrediction:
    """Sampled frames, their scores, the clip score and the people in the clip."""

    frame_numbers: list[int]
    frames: list[ImagePrediction]
    frame_logits: list[float | None]
    prob: float | None
    frame_policy: str
    people: list[PersonTrack]
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def rule(self) -> str:
        return clip_rule(self.frame_policy)

    @property
    def n_faces(self) -> int:
        return sum(len(f.faces) for f in self.frames)


def build_people(
    images: Sequence[np.ndarray], frame_numbers: Sequence[int], preds: Sequence[ImagePrediction], describer: Any
) -> list[PersonTrack]:
    """Link the faces of ``preds`` into people (:func:`laanet_synth.tracks.link_tracks`, with ``describer``'s
    descriptors to rejoin after a gap) and score each one; people ordered by how many frames they are in."""
    from laanet_synth.tracks import link_tracks

    boxes = [np.array([f.box for f in p.faces], dtype=np.float64).reshape(-1, 4) for p in preds]

    def describe(t: int, j: int) -> np.ndarray:
        return describer.describe(images[t], preds[t].faces[j])

    ids = link_tracks(boxes, describe if describer is not None else None)
    members: dict[int, list[tuple[int, int]]] = {}
    for t, row in enumerate(ids):
        for j, k in enumerate(row):
            members.setdefault(k, []).append((t, j))
    order = sorted(members.values(), key=lambda m: (-len(m), m[0]))
    people = []
    for n, faces in enumerate(order, start=1):
        logits = [float(preds[t].faces[j].logit) for t, j in faces]
        t_best, j_best = max(faces, key=lambda tj: preds[tj[0]].faces[tj[1]].area)
        best = preds[t_best].faces[j_best]
        people.append(PersonTrack(
            person=n, faces=faces, frame_numbers=[int(frame_numbers[t]) for t, _ in faces], logits=logits,
            prob=video_score(logits), thumbnail=best.crop, thumbnail_frame=int(frame_numbers[t_best]),
            thumbnail_box=np.asarray(best.box, dtype=np.float32),
        ))
    return people


def build_video_prediction(
    images: Sequence[np.ndarray], frame_numbers: Sequence[int], preds: Sequence[ImagePrediction],
    frame_policy: str, describer: Any, timer: Any, no_face_logits: Sequence[float | None] = (),
) -> VideoPrediction:
    """The clip score by ``frame_policy`` then the mean frame logit (when no frame has a judged face, the mean
    of ``no_face_logits``, what the recipe's no-face rule gave each frame), and (with a ``describer``) the
    people."""
    frame_logits = [p.frame_logit(frame_policy) for p in preds]
    people: list[PersonTrack] = []
    if describer is not None:
        with timer.stage("people"):
            people = build_people(images, frame_numbers, preds, describer)
    return VideoPrediction(
        frame_numbers=[int(n) for n in frame_numbers], frames=list(preds), frame_logits=frame_logits,
        prob=clip_score(frame_logits, no_face_logits), frame_policy=frame_policy, people=people,
        timings_ms=timer.milliseconds(),
    )
