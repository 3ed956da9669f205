"""Previews of uploaded videos: whether a browser can play the codec, and a frame strip for those it cannot."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

#: FourCC codes (lower case) of codecs that current browsers play in MP4 / WebM / Ogg containers
BROWSER_CODECS: dict[str, str] = {
    "avc1": "H.264", "h264": "H.264", "x264": "H.264", "vp80": "VP8", "vp08": "VP8", "vp90": "VP9",
    "vp09": "VP9", "av01": "AV1", "theo": "Theora",
}
#: names of common codecs browsers cannot play, for the note shown with the frame strip
OTHER_CODECS: dict[str, str] = {
    "fmp4": "MPEG-4 Part 2", "mp4v": "MPEG-4 Part 2", "xvid": "MPEG-4 Part 2 (Xvid)", "divx": "MPEG-4 Part 2 (DivX)",
    "dx50": "MPEG-4 Part 2 (DivX)", "mjpg": "Motion JPEG", "hevc": "H.265", "hvc1": "H.265", "hev1": "H.265",
    "mpg1": "MPEG-1", "mpg2": "MPEG-2", "wmv3": "WMV", "wmv2": "WMV", "flv1": "Sorenson Spark",
}
BROWSER_CONTAINERS = (".mp4", ".m4v", ".webm", ".ogg", ".ogv", ".mov")


class PreviewError(ValueError):
    """No preview can be made (the video cannot be opened or has no decodable frame)."""


def browser_playable(path: str | Path, container_suffix: str | None = None) -> tuple[bool, str]:
    """(whether a browser can play the video, the codec's name). `container_suffix` overrides the file's own
    suffix (uploads may be stored under another name)."""
    from laanet_synth.video import VideoReadError, video_info

    try:
        fourcc = video_info(path).fourcc
    except VideoReadError as err:
        raise PreviewError("the video cannot be opened") from err
    name = BROWSER_CODECS.get(fourcc) or OTHER_CODECS.get(fourcc) or (fourcc.upper() or "unknown codec")
    suffix = (container_suffix or Path(path).suffix).lower()
    return fourcc in BROWSER_CODECS and suffix in BROWSER_CONTAINERS, name


def frame_strip(path: str | Path, n_frames: int = 6, height: int = 120, columns: int = 3) -> np.ndarray:
    """`n_frames` evenly spaced frames of a video, each `height` px high, in a grid of `columns` (RGB uint8)."""
    from laanet_synth.video import VideoReadError, read_frames

    try:
        frames = [f for _, f in read_frames(path, n_frames)]
    except VideoReadError as err:
        raise PreviewError("the video's frames cannot be decoded") from err
    if not frames:
        raise PreviewError("the video has no decodable frame")
    tiles = []
    for f in frames:
        w = max(1, round(f.shape[1] * height / f.shape[0]))
        tiles.append(cv2.resize(f, (w, height), interpolation=cv2.INTER_AREA))
    width = max(t.shape[1] for t in tiles)
    gap = 4
    rows = -(-len(tiles) // columns)
    out = np.full((rows * (height + gap) - gap, columns * (width + gap) - gap, 3), 255, np.uint8)
    for i, t in enumerate(tiles):
        r, c = divmod(i, columns)
        y, x = r * (height + gap), c * (width + gap)
        out[y:y + height, x:x + t.shape[1]] = t
    return out
