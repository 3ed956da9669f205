"""The demo's examples, shipped as package data: each file with a label saying what it is, where it came from
and what the built-in model makes of it (fakes it misses are labelled so). Sources and licences:
`examples/SOURCES.md`."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

#: the weights whose results the labels state
LABELLED_FOR = "laanet-lite0-sbi-lfw"


@dataclass(frozen=True)
class Example:
    """One shipped example file."""

    file: str
    kind: str
    """"image" or "video"."""
    truth: str
    """"real" or "fake"."""
    what: str
    """What the file is, in a few words."""
    source: str
    """Where it came from, in a few words (SOURCES.md has the details and licence)."""
    builtin_verdict: str
    """The verdict the built-in model gives it ("real", "uncertain" or "fake"); checked by a test."""

    @property
    def path(self) -> Path:
        return examples_dir() / self.file

    @property
    def thumbnail(self) -> Path:
        """The picture shown for it: the image itself, or a video's first frame (`<name>.poster.jpg`)."""
        return self.path if self.kind == "image" else self.path.with_suffix(".poster.jpg")

    @property
    def outcome(self) -> str:
        """What the built-in model makes of it, in plain words."""
        if self.builtin_verdict == "uncertain":
            return "model unsure"
        if self.builtin_verdict == self.truth:
            return "caught" if self.truth == "fake" else "called real"
        return "missed by this model" if self.truth == "fake" else "wrongly called fake"

    @property
    def label(self) -> str:
        """The caption under its thumbnail, e.g. "Face swap (GHOST) · missed by this model"."""
        return f"{self.what} · {self.outcome}"


EXAMPLES: tuple[Example, ...] = (
    Example("portrait-img12.jpg", "image", "real", "Real portrait", "deepface test set", "real"),
    Example("astronaut.jpg", "image", "real", "Real photo", "NASA, via scikit-image", "real"),
    Example("group-selfie-many-people.jpg", "image", "real", "Real group selfie", "deepface test set", "uncertain"),
    Example("fake-swap-faceshifter.png", "image", "fake", "Face swap (FaceShifter)", "maum-ai/faceshifter",
            "fake"),
    Example("fake-swap-ghost.jpg", "image", "fake", "Face swap (GHOST)", "ai-forever/ghost", "real"),
    Example("fake-sbi-lfw-Aaron_Tippin.jpg", "image", "fake", "Self-blended fake", "LFW photo, blended here",
            "fake"),
    Example("fake-sbi-lfw-AJ_Lamas.jpg", "image", "fake", "Self-blended fake", "LFW photo, blended here",
            "real"),
    Example("video-dfdc-0017-fake.webm", "video", "fake", "DFDC deepfake clip", "DFDC via GenConViT", "fake"),
)


def examples_dir() -> Path:
    """The examples folder inside the installed package."""
    return Path(str(files("laanet_demo") / "examples"))


def shipped(kind: str) -> list[Example]:
    """The examples of one kind whose file is present."""
    return [e for e in EXAMPLES if e.kind == kind and e.path.is_file()]


def caption(example: Example) -> str:
    """Thumbnail caption: what it is, the model's outcome and the source."""
    return f"{example.label} ({example.source})"
