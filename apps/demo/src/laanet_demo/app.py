"""The Gradio demo: every face of a photo or video, its fake probability and where the model sees blending."""

from __future__ import annotations

import base64
import contextlib
import functools
import html
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Collection, Iterator, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from laanet_synth.imageio import write_image_atomic
from laanet_synth.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES

from laanet_demo import analysis, preview, render, report
from laanet_demo.inference import (
    FACE_COLUMNS,
    NOT_JUDGED,
    PERSON_RULE,
    band_text,
    face_record,
    face_rows,
    label_value,
    person_record,
    unjudged_record,
    verdict_markdown,
)
from laanet_demo.limits import DemoLimits, InputRejected

log = logging.getLogger("laanet_demo")

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
GENERIC_ERROR = (
    "Something went wrong while analysing this input, and nothing was scored. "
    "Please try another file; if it keeps happening, the server log has the details."
)
CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt", ".bin")
VIDEO_EXAMPLE_SUFFIXES = (".mp4", ".webm")
VIDEO_UPLOAD_SUFFIXES = tuple(sorted(VIDEO_SUFFIXES))


def user_errors(fn: Callable[..., Any], in_panel: Callable[[str], Any] | None = None) -> Callable[..., Any]:
    """`fn` with the errors a user may see: an InputRejected's message, anything unexpected as a generic
    message (its traceback goes to the server log only, never to the user).

    Without `in_panel` the message is raised as a gr.Error (API clients read it as plain text); with it,
    `in_panel(message)` is returned instead, as the browser tabs show errors in their result panel (see
    `panel_error`).
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except InputRejected as err:
            message = str(err)
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            message = GENERIC_ERROR
        if in_panel is None:
            raise gr.Error(message, print_exception=False)
        return in_panel(message)

    return wrapper


def error_markdown(title: str, message: str) -> str:
    """An error for the result panel: a heading and the message, with HTML characters escaped."""
    return f"### {title}\n\n{html.escape(message, quote=False)}"


def panel_error(title: str, rest: Callable[[], tuple[Any, ...]]) -> Callable[[str], tuple[Any, ...]]:
    """For `user_errors`: the message goes into the first output (the result panel) instead of a fading
    toast, and the other outputs get `rest()` (cleared, or left as they are with `gr.skip()`)."""
    return lambda message: (error_markdown(title, message), *rest())


def cleared(n: int) -> Callable[[], tuple[Any, ...]]:
    """A function giving `n` empty output values."""
    return lambda: (None,) * n


def payload_path(payload: Any, what: str) -> Path | str:
    """Local path of an uploaded file, whatever form Gradio hands it over in (path, FileData, dict), or the
    `data:` URL it came as (see `uploaded_file`, which decodes such a URL into a temporary file)."""
    if payload is None or payload == "":
        raise InputRejected(f"No {what} was given; please upload one first.")
    if isinstance(payload, (str, os.PathLike)):
        return Path(payload)
    if isinstance(payload, dict):
        if isinstance(payload.get("video"), dict):
            return payload_path(payload["video"], what)
        path, url = payload.get("path"), payload.get("url")
    else:
        path, url = getattr(payload, "path", None), getattr(payload, "url", None)
    if path:
        return Path(path)
    if isinstance(url, str) and url.startswith("data:"):
        return url
    raise InputRejected(f"The {what} upload did not arrive complete; please upload it again.")


def upload_name(payload: Any) -> str | None:
    """The file name the user uploaded (for reports), when Gradio passed it on."""
    if isinstance(payload, dict):
        if isinstance(payload.get("video"), dict):
            return upload_name(payload["video"])
        name = payload.get("orig_name") or payload.get("path")
    else:
        name = getattr(payload, "orig_name", None) or (payload if isinstance(payload, (str, os.PathLike)) else None)
    return Path(name).name if name else None


def decoded_size_bound(data_url: str) -> int:
    """Upper bound of the bytes a base64 `data:` URL decodes to, without decoding it."""
    encoded = len(data_url) - (data_url.find(",") + 1)
    return encoded * 3 // 4


def decode_data_url(url: str, what: str, max_bytes: int, tmp_dir: Path | None = None) -> Path:
    """Decode a base64 `data:` URL into a new temporary file (the caller deletes it); refused before any
    decoding when it would exceed `max_bytes`."""
    if "," not in url:
        raise InputRejected(f"The {what} data could not be decoded; please upload it again.")
    size = decoded_size_bound(url)
    if size > max_bytes:
        raise InputRejected(
            f"The {what} is about {size / (1024 * 1024):.1f} MB; this demo accepts {what}s up to "
            f"{max_bytes / (1024 * 1024):.1f} MB."
        )
    try:
        data = base64.b64decode(url.split(",", 1)[1], validate=False)
    except ValueError as err:
        raise InputRejected(f"The {what} data could not be decoded; please upload it again.") from err
    fd, name = tempfile.mkstemp(prefix="laanet-", suffix=".upload", dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


@contextlib.contextmanager
def uploaded_file(payload: Any, what: str, max_bytes: int, tmp_dir: Path | None = None) -> Iterator[Path]:
    """The local path of an upload; a `data:` URL is decoded into a temporary file that is deleted on exit,
    whether the work succeeded or failed."""
    with local_file(payload_path(payload, what), what, max_bytes, tmp_dir) as path:
        yield path


@contextlib.contextmanager
def local_file(where: Path | str, what: str, max_bytes: int, tmp_dir: Path | None = None) -> Iterator[Path]:
    """`where` (a `payload_path` result) as a local file: a path as it is, a `data:` URL decoded into a temporary
    file that is deleted on exit."""
    if isinstance(where, Path):
        yield where
        return
    path = decode_data_url(where, what, max_bytes, tmp_dir)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


class DetectorPool:
    """The built-in detector plus a few detectors loaded from uploaded checkpoints, keyed by file hash."""

    def __init__(self, default: Any, loader: Callable[[str], Any] | None, capacity: int = 2) -> None:
        self.default = default
        self._loader = loader
        self._capacity = capacity
        self._loaded: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str | None) -> Any:
        """The detector for a session key (None is the built-in one)."""
        if key is None:
            return self.default
        with self._lock:
            det = self._loaded.get(key)
            if det is None:
                raise InputRejected(
                    "The checkpoint this session loaded is no longer in memory; please load it again "
                    "in the Model tab, or use the built-in model."
                )
            self._loaded.move_to_end(key)
            return det

    def load(self, paths: Sequence[Path]) -> str:
        """Load an uploaded checkpoint: one official .pth, or a .safetensors with its .json card.

        Returns the session key. Raises InputRejected for the wrong kind of file.
        """
        if self._loader is None:
            raise InputRejected("This server does not allow loading other checkpoints.")
        weights, cards = pick_checkpoint_files(paths)
        from laanet_model.checkpoints import file_sha256

        digest = file_sha256(weights)
        with self._lock:
            if digest in self._loaded:
                return digest
        with tempfile.TemporaryDirectory(prefix="laanet-ckpt-") as tmp:
            # the card must sit beside the weights under the same stem
            local = Path(tmp) / f"{weights.stem}{weights.suffix.lower()}"
            shutil.copyfile(weights, local)
            if cards:
                shutil.copyfile(cards[0], local.with_suffix(".json"))
            det = self._loader(str(local))
        with self._lock:
            self._loaded[digest] = det
            while len(self._loaded) > self._capacity:
                self._loaded.popitem(last=False)
        return digest


def people_markdown(people: Sequence[analysis.PersonAnalysis], n_frames: int, bands: Any) -> str:
    """One line per person found in the video (the clip verdict above is the weight's frame and video rule)."""
    if not people:
        return ""
    lines = [f"\n\n**{len(people)} {'person' if len(people) == 1 else 'people'}** ({PERSON_RULE}):"]
    lines += [f"- person {p.person}: **{p.verdict}** · score {p.prob:.3f} ({band_text(p.prob, bands)}), in "
              f"{len(p.timeline)} of {n_frames} sampled frames" for p in people]
    return "\n".join(lines)


def pick_checkpoint_files(paths: Sequence[Path]) -> tuple[Path, list[Path]]:
    """The weights file and the JSON card(s) among uploaded files; InputRejected when they do not fit."""
    if not paths:
        raise InputRejected("No checkpoint file was given; please upload one first.")
    weights = [p for p in paths if p.suffix.lower() in CHECKPOINT_SUFFIXES]
    cards = [p for p in paths if p.suffix.lower() == ".json"]
    others = [p for p in paths if p not in weights and p not in cards]
    if others or len(weights) != 1 or len(cards) > 1:
        names = ", ".join(p.name for p in paths)
        raise InputRejected(
            "Upload one checkpoint: an official LAA-Net .pth file, or a .safetensors file together with its "
            f".json card (both at once). Got: {names}."
        )
    if weights[0].suffix.lower() == ".safetensors" and not cards:
        raise InputRejected(
            f"'{weights[0].name}' needs its JSON card: select the .safetensors file and the .json "
            "file written beside it, and upload both at once."
        )
    return weights[0], cards


def load_checkpoint_detector(path: str) -> Any:
    """Build a Detector from a local checkpoint file; wrong kinds of file become InputRejected."""
    import pickle

    from laanet_model.checkpoints import CheckpointError
    from laanet_model.detector import Detector

    name = Path(path).name
    try:
        return Detector.from_weights(path)
    except CheckpointError as err:
        detail = str(err).replace(str(Path(path).parent) + os.sep, "")
        raise InputRejected(f"'{name}' is not a LAA-Net checkpoint this demo can load: {detail}") from err
    except (ValueError, RuntimeError, KeyError, OSError, EOFError, pickle.UnpicklingError) as err:
        raise InputRejected(
            f"'{name}' is not a LAA-Net checkpoint this demo can load (expected a .safetensors file with its "
            f"JSON card, or an official LAA-Net .pth; reading it failed with {type(err).__name__})."
        ) from err


class OutputImages:
    """Writes result images as uniquely named JPEG files in Gradio's upload folder.

    Gradio serves files from there as they are. Unique names matter: two requests with identical results
    would otherwise rewrite the same content-addressed file while it is being downloaded.
    """

    def __init__(self, folder: Path | None = None, quality: int = 90) -> None:
        self._folder = folder
        self._quality = quality

    def folder(self) -> Path:
        from gradio.utils import get_upload_folder

        d = (self._folder or Path(get_upload_folder())) / "laanet-demo"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def write(self, image: Any, stem: str) -> str:
        """Save an RGB uint8 array atomically; returns the file path."""
        target = self.folder() / f"{stem}-{uuid.uuid4().hex}.jpg"
        write_image_atomic(target, image, quality=self._quality)
        return str(target)

    def keep(self, path: Path, stem: str, suffix: str) -> str:
        """Take over a file that would be deleted (e.g. a decoded `data:` URL upload): it is moved, not read
        into memory, into the served folder; the caller's clean-up then finds nothing to delete."""
        target = self.folder() / f"{stem}-{uuid.uuid4().hex}{suffix}"
        shutil.move(str(path), str(target))
        return str(target)


class DemoHandlers:
    """The functions behind the app's events (plain methods, so tests can call them without a browser)."""

    def __init__(
        self, pool: DetectorPool, limits: DemoLimits, images: OutputImages | None = None,
        tmp_dir: Path | None = None,
    ) -> None:
        self.pool = pool
        self.limits = limits
        self.images = images or OutputImages()
        self.tmp_dir = tmp_dir
        """Where `data:` URL uploads are decoded (the system temporary folder by default); deleted after use."""

    def _report(self, details: dict[str, Any], payload: Any, stem: str, overlay: str | None) -> list[str]:
        """The downloadable report files: the JSON record, and the overlay picture when there is one."""
        record = report.report_record(details, upload_name(payload))
        files = [str(report.write_report(self.images.folder(), record, stem))]
        return files + ([overlay] if overlay else [])

    def image_outputs(self, result: analysis.ImageAnalysis, detector: Any, payload: Any = None) -> tuple[Any, ...]:
        bands = analysis.bands_for(detector)
        rule = analysis.describe_rules(detector)
        overlay = self.images.write(render.overlay_image(result.image, result.faces, unjudged=result.unjudged), "overlay")
        gallery = [
            (self.images.write(render.face_tile(f), f"face{f.index}"), render.face_caption(f, bands))
            for f in result.faces if f.crop is not None
        ]
        details = {
            "kind": "image",
            "n_faces": result.n_faces_found,
            "n_faces_scored": len(result.faces),
            "prob": None if result.prob is None else round(result.prob, 6),
            "verdict": verdict_of(result.prob, bands, result.unjudged),
            "aggregation": rule,
            "frame_rule": analysis.frame_rule_for(detector),
            "faces": [face_record(f) for f in result.faces],
            "not_judged": [unjudged_record(u) for u in result.unjudged],
            "timings_ms": result.timings_ms,
            "model": analysis.model_summary(detector),
        }
        limits_line = analysis.limits_markdown(analysis.measured_limits(detector))
        summary = verdict_markdown(result.prob, bands, "image", rule, len(result.faces), result.unjudged, limits_line)
        if result.n_faces_found > len(result.faces):
            summary += (f"\n\nThe score covers all {result.n_faces_found} faces; the {len(result.faces)} largest "
                        "are shown.")
        table = {"headers": FACE_COLUMNS, "data": face_rows(result.faces, result.unjudged)}
        files = self._report(details, payload, "laanet-image-report", overlay)
        label = label_value(result.prob, bands, len(result.unjudged))
        return summary, label, overlay, gallery, table, details, files

    def predict_image(self, image: Any, session_key: str | None = None) -> tuple[Any, ...]:
        """Score every face in one uploaded image."""
        detector = self.pool.get(session_key)
        with uploaded_file(image, "image", self.limits.max_image_bytes, self.tmp_dir) as path:
            result = analysis.analyse_image(detector, path, self.limits)
        if not result.faces and not result.unjudged:
            raise InputRejected(
                "No face was found in this image. Upload a photo where at least one face is visible, "
                f"roughly frontal and at least {detector.preprocessing.min_face_size} pixels wide."
            )
        return self.image_outputs(result, detector, image)

    def predict_video(
        self, video: Any, n_frames: Any = None, session_key: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio injects the event's tracker through this default
    ) -> tuple[Any, ...]:
        """Score the faces in evenly sampled frames of one uploaded video."""
        detector = self.pool.get(session_key)
        k = self._frame_count(n_frames)

        def report_progress(done: int, total: int) -> None:
            progress((done, total), desc="scoring frames", unit="frames")

        with uploaded_file(video, "video", self.limits.max_video_bytes, self.tmp_dir) as path:
            result = analysis.analyse_video(detector, path, k, self.limits, progress=report_progress)
        if result.n_faces == 0 and not result.unjudged:
            raise InputRejected(
                f"No face was found in any of the {len(result.frames)} sampled frames of this video, "
                "so it cannot be scored. Try a video where a face is clearly visible."
            )
        return self.video_outputs(result, detector, video)

    def _frame_count(self, n_frames: Any) -> int:
        lim = self.limits
        if n_frames is None or n_frames == "":
            return lim.default_video_frames
        try:
            k = int(float(n_frames))
        except (TypeError, ValueError) as err:
            raise InputRejected(f"Frames to sample must be a whole number, got {n_frames!r}.") from err
        if not lim.min_video_frames <= k <= lim.max_video_frames:
            raise InputRejected(
                f"Frames to sample must be between {lim.min_video_frames} and {lim.max_video_frames}, got {k}."
            )
        return k

    def video_outputs(self, result: analysis.VideoAnalysis, detector: Any, payload: Any = None) -> tuple[Any, ...]:
        bands = analysis.bands_for(detector)
        rule = analysis.describe_rules(detector)
        frames = result.frames
        fig = render.timeline_figure(
            [f.frame_number for f in frames], [[x.prob for x in f.faces] for f in frames],
            [f.prob for f in frames], bands, result.prob, rule,
            people=[(f"person {p.person}", p.timeline) for p in result.people],
        )
        top = analysis.most_suspicious_frames(result, self.limits.suspicious_frames)
        gallery = [
            (self.images.write(render.overlay_scaled(f.display, f.faces, f.display_scale, f.unjudged),
                               f"frame{f.frame_number}"),
             f"frame {f.frame_number} · {bands.verdict(f.prob)} · score {f.prob:.3f} ({band_text(f.prob, bands)})")
            for f in top if f.prob is not None
        ]
        rows = [
            [f.frame_number, len(f.faces), None if f.prob is None else round(f.prob, 4),
             verdict_of(f.prob, bands, f.unjudged) or ""]
            for f in frames
        ]
        details = {
            "kind": "video",
            "n_frames_sampled": len(frames),
            "n_frames_total": result.n_frames_total,
            "n_frames_with_face": sum(1 for f in frames if f.faces),
            "n_faces": result.n_faces,
            "n_faces_not_judged": len(result.unjudged),
            "prob": None if result.prob is None else round(result.prob, 6),
            "verdict": verdict_of(result.prob, bands, result.unjudged),
            "aggregation": rule,
            "frame_rule": analysis.frame_rule_for(detector),
            "frames": [
                {"frame": f.frame_number, "prob": None if f.prob is None else round(f.prob, 6),
                 "faces": [face_record(x) for x in f.faces],
                 "not_judged": [unjudged_record(u) for u in f.unjudged]}
                for f in frames
            ],
            "timings_ms": result.timings_ms,
            "model": analysis.model_summary(detector),
            "person_rule": PERSON_RULE,
            "people": [person_record(p) for p in result.people],
        }
        limits_line = analysis.limits_markdown(analysis.measured_limits(detector))
        summary = verdict_markdown(result.prob, bands, "video", rule, result.n_faces, result.unjudged, limits_line)
        summary += (f"\n\n{details['n_frames_with_face']} of {len(frames)} sampled frames had a face.")
        summary += people_markdown(result.people, len(frames), bands)
        table = {"headers": ["frame", "faces", "frame score", "verdict"], "data": rows}
        people = [
            (self.images.write(render.person_tile(p.thumbnail, p.verdict), f"person{p.person}"),
             f"person {p.person} · {p.verdict} · score {p.prob:.3f} ({band_text(p.prob, bands)}) · in "
             f"{len(p.timeline)} of {len(frames)} frames")
            for p in result.people if p.thumbnail is not None
        ]
        files = self._report(details, payload, "laanet-video-report", None)
        label = label_value(result.prob, bands, len(result.unjudged))
        return summary, label, fig, gallery, table, details, people, files

    def video_preview(self, video: Any) -> tuple[Any, Any, str]:
        """The preview of an uploaded video: a player when browsers can play its codec, else a frame strip with
        a note (e.g. MPEG-4 Part 2); returns the player, the strip and the note."""
        hidden = (gr.Video(value=None, visible=False), gr.Image(value=None, visible=False))
        if video is None:
            return (*hidden, "")
        try:
            where = payload_path(video, "video")
            with local_file(where, "video", self.limits.max_video_bytes, self.tmp_dir) as path:
                suffix = Path(upload_name(video) or path).suffix
                playable, codec = preview.browser_playable(path, suffix)
                if playable:
                    # a decoded `data:` URL would be deleted on leaving this block: the served folder takes it over
                    served = str(path) if isinstance(where, Path) else \
                        self.images.keep(path, "preview", suffix or ".mp4")
                    return gr.Video(value=served, visible=True), hidden[1], ""
                strip = self.images.write(preview.frame_strip(path), "preview")
        except (InputRejected, preview.PreviewError) as err:
            return (*hidden, html.escape(f"No preview: {err}", quote=False))
        note = (f"Browsers cannot play this video's codec ({codec}), so here are frames of it instead; "
                "the analysis reads the file as uploaded.")
        return hidden[0], gr.Image(value=strip, visible=True), note

    def load_checkpoint(self, files: Any) -> tuple[str, str, str | None]:
        """Load an uploaded checkpoint for this session; returns a status line, the card text and the session key."""
        if files is None or isinstance(files, (str, dict, os.PathLike)):
            files = [] if files is None else [files]
        max_bytes = upload_limit_bytes(self.limits.max_upload)
        with contextlib.ExitStack() as stack:
            paths = [stack.enter_context(uploaded_file(f, "checkpoint", max_bytes, self.tmp_dir)) for f in files]
            key = self.pool.load(paths)
        det = self.pool.get(key)
        names = ", ".join(f"`{p.name.replace('`', '')}`" for p in paths)
        status = f"Loaded {names} for this session."
        return status, analysis.card_markdown(det, source=f"uploaded {names} (this session only)"), key

    def use_builtin(self) -> tuple[str, str, None]:
        """Go back to the built-in model for this session."""
        return "Using the built-in model.", analysis.card_markdown(self.pool.default, source="built-in"), None


def verdict_of(prob: float | None, bands: Any, unjudged: Sequence[Any]) -> str | None:
    """The verdict word of a score; "not judged" when only faces not judged were found; None without
    any face."""
    if prob is not None:
        return bands.verdict(prob)
    return NOT_JUDGED if unjudged else None


def upload_limit_bytes(max_upload: str | int) -> int:
    """Gradio's upload limit (e.g. "256mb") in bytes, read as Gradio reads it."""
    from gradio.utils import _parse_file_size

    size = _parse_file_size(max_upload)
    if size is None:
        raise ValueError(f"expected an upload limit such as '256mb', got {max_upload!r}")
    return size


IMAGE_FORMATS_NOTE = "JPEG, PNG, WebP, BMP or TIFF"
VIDEO_FORMATS_NOTE = "MP4, WebM, AVI, MOV or MKV (H.264, VP8/VP9, MPEG-4 Part 2 and other codecs OpenCV reads)"


def accepted_inputs_markdown(limits: DemoLimits, what: str, min_face: int) -> str:
    """The formats and limits of one tab, stated under its input."""
    mb = 1024 * 1024
    if what == "image":
        return (f"<small>Accepted: {IMAGE_FORMATS_NOTE}; up to {limits.max_image_bytes // mb} MB and "
                f"{limits.max_image_pixels / 1e6:.0f} megapixels. Faces narrower than {min_face} px are not "
                f"judged.</small>")
    return (f"<small>Accepted: {VIDEO_FORMATS_NOTE}; up to {limits.max_video_bytes // mb} MB, frames up to "
            f"{limits.max_image_pixels / 1e6:.0f} megapixels; {limits.min_video_frames} to "
            f"{limits.max_video_frames} frames are sampled. Videos browsers cannot play get a frame strip as "
            f"preview.</small>")


def _example_files(examples_dir: Path | None, suffixes: Collection[str]) -> list[Path]:
    if examples_dir is None or not examples_dir.is_dir():
        return []
    return sorted(p for p in examples_dir.iterdir() if p.suffix.lower() in suffixes)


def example_label(path: Path) -> str:
    """The label of an example, from its file name: fakes say so ("fake (SBI): AJ Lamas")."""
    stem = path.stem
    if stem.startswith("fake-sbi-lfw-"):
        return "fake (self-blended): " + stem.removeprefix("fake-sbi-lfw-").replace("_", " ")
    if "fake" in stem:
        return "fake: " + stem.replace("-", " ")
    return "real: " + stem.replace("-", " ")


def point_api_example(component: Any, example: Path | None) -> None:
    """Make the "Use via API" sample of `component` point at a shipped example file instead of an online one."""
    if example is None:
        return
    from gradio_client import handle_file

    component.example_payload = lambda: handle_file(str(example))
    component.example_value = lambda: str(example)


def build_demo(
    detector: Any,
    *,
    limits: DemoLimits | None = None,
    examples_dir: Path | None = EXAMPLES_DIR,
    checkpoint_loader: Callable[[str], Any] | None = load_checkpoint_detector,
    note: str | None = None,
    tmp_dir: Path | None = None,
) -> gr.Blocks:
    """Build the app around one Detector. Every model call goes through it (or a checkpoint the user loads).

    `note` is shown under the title (for example to say that the model is not a trained one). In the browser,
    errors show in the result panel; the API endpoints (`/predict_image`, `/predict_video`) raise them.
    """
    limits = limits or DemoLimits()
    handlers = DemoHandlers(DetectorPool(detector, checkpoint_loader), limits, tmp_dir=tmp_dir)
    model_queue = {"concurrency_limit": limits.concurrency_limit, "concurrency_id": "model"}
    # previews decode frames but never touch the model: their own queue, so they neither wait for nor block analyses
    preview_queue = {"concurrency_limit": limits.concurrency_limit, "concurrency_id": "preview"}
    private = {"api_visibility": "private"}
    image_examples = _example_files(examples_dir, IMAGE_SUFFIXES)
    video_examples = _example_files(examples_dir, VIDEO_EXAMPLE_SUFFIXES)
    min_face = detector.preprocessing.min_face_size

    with gr.Blocks(title="LAA-Net deepfake detector", delete_cache=(1800, 3600)) as demo:
        session_key = gr.State(None)
        gr.Markdown(
            "# LAA-Net deepfake detector\n"
            "Finds every face, scores how likely it is to be a face swap or blend, and shows the heatmap of "
            "where the model sees blending artifacts. Scores are model outputs, not proof."
        )
        if note:
            gr.Markdown(f"**{html.escape(note)}**")
        with gr.Tab("Image"):
            with gr.Row():
                with gr.Column(scale=1):
                    image_in = gr.Image(
                        label="Photo", type="filepath", sources=["upload", "webcam", "clipboard"],
                        elem_id="image-input",
                    )
                    gr.Markdown(accepted_inputs_markdown(limits, "image", min_face))
                    image_btn = gr.Button(
                        "Analyse image", variant="primary", elem_id="image-analyse", interactive=False,
                    )
                    image_api = gr.Button(visible=False)
                with gr.Column(scale=2):
                    image_summary = gr.Markdown(label="Summary", elem_id="image-summary")
                    image_label = gr.Label(label="Image verdict", elem_id="image-label")
                    image_report = gr.File(label="Report (JSON + overlay)", file_count="multiple",
                                           interactive=False, elem_id="image-report")
            image_overlay = gr.Image(
                label="Faces and artifact heatmaps (colour scale below the picture)", type="filepath",
                interactive=False, elem_id="image-overlay",
            )
            image_gallery = gr.Gallery(
                label="Faces, most fake first: crop | heatmap", columns=3, height="auto", object_fit="contain",
            )
            image_table = gr.Dataframe(label="Faces", headers=FACE_COLUMNS, interactive=False)
            with gr.Accordion("Details (model, recipe, timings)", open=False):
                image_details = gr.JSON(label="Details")
            image_outputs = [image_summary, image_label, image_overlay, image_gallery, image_table, image_details,
                             image_report]
            in_panel = user_errors(handlers.predict_image,
                                   panel_error("Not analysed", cleared(len(image_outputs) - 1)))
            image_in.change(lambda v: gr.Button(interactive=v is not None), inputs=[image_in], outputs=[image_btn],
                            queue=False, **private)
            image_btn.click(
                analysing(len(image_outputs)), outputs=image_outputs, queue=False, **private,
            ).then(in_panel, inputs=[image_in, session_key], outputs=image_outputs, preprocess=False,
                   api_name="show_image_analysis", **private, **model_queue)
            image_api.click(
                user_errors(handlers.predict_image), inputs=[image_in, session_key], outputs=image_outputs,
                api_name="predict_image", preprocess=False, **model_queue,
            )
            point_api_example(image_in, next((p for p in image_examples if p.stem.startswith("portrait")),
                                             image_examples[0] if image_examples else None))
            if image_examples:
                gr.Examples(
                    examples=[[str(p)] for p in image_examples], inputs=[image_in], outputs=image_outputs,
                    fn=in_panel, cache_examples=True, cache_mode="lazy", preprocess=False,
                    example_labels=[example_label(p) for p in image_examples], **private,
                )
        with gr.Tab("Video"):
            with gr.Row():
                with gr.Column(scale=1):
                    # a file input, not a player: browsers cannot play every codec the analysis reads, so the
                    # preview below is a player for those they can and a frame strip for the others
                    video_in = gr.File(label="Video", file_types=list(VIDEO_UPLOAD_SUFFIXES), elem_id="video-input")
                    gr.Markdown(accepted_inputs_markdown(limits, "video", min_face))
                    video_player = gr.Video(label="Preview", interactive=False, visible=False,
                                            elem_id="video-player")
                    video_preview = gr.Image(label="Preview frames", interactive=False, visible=False,
                                             elem_id="video-preview")
                    video_preview_note = gr.Markdown(elem_id="video-preview-note")
                    video_frames = gr.Slider(
                        limits.min_video_frames, limits.max_video_frames, value=limits.default_video_frames,
                        step=1, label="Frames to sample (evenly spaced)",
                    )
                    video_btn = gr.Button(
                        "Analyse video", variant="primary", elem_id="video-analyse", interactive=False,
                    )
                    video_api = gr.Button(visible=False)
                with gr.Column(scale=2):
                    video_summary = gr.Markdown(label="Summary", elem_id="video-summary")
                    video_label = gr.Label(label="Video verdict", elem_id="video-label")
                    video_report = gr.File(label="Report (JSON)", file_count="multiple", interactive=False)
            video_plot = gr.Plot(label="Per-frame, per-face scores")
            video_gallery = gr.Gallery(
                label="Most suspicious frames", columns=2, height="auto", object_fit="contain",
            )
            video_table = gr.Dataframe(
                label="Frames", headers=["frame", "faces", "frame score", "verdict"], interactive=False,
            )
            video_people = gr.Gallery(
                label="People (each person's score over their own faces)", columns=4, height="auto",
                object_fit="contain", elem_id="video-people",
            )
            with gr.Accordion("Details (model, timings, every face)", open=False):
                video_details = gr.JSON(label="Details")
            video_outputs = [video_summary, video_label, video_plot, video_gallery, video_table, video_details,
                             video_people, video_report]
            video_in.change(lambda v: gr.Button(interactive=v is not None), inputs=[video_in], outputs=[video_btn],
                            queue=False, **private)
            video_in.change(handlers.video_preview, inputs=[video_in],
                            outputs=[video_player, video_preview, video_preview_note],
                            preprocess=False, **private, **preview_queue)
            video_btn.click(
                analysing(len(video_outputs)), outputs=video_outputs, queue=False, **private,
            ).then(
                user_errors(handlers.predict_video,
                            panel_error("Not analysed", cleared(len(video_outputs) - 1))),
                inputs=[video_in, video_frames, session_key], outputs=video_outputs, preprocess=False,
                api_name="show_video_analysis", **private, **model_queue,
            )
            video_api.click(
                user_errors(handlers.predict_video), inputs=[video_in, video_frames, session_key],
                outputs=video_outputs, api_name="predict_video", preprocess=False, **model_queue,
            )
            point_api_example(video_in, video_examples[0] if video_examples else None)
            if video_examples:
                gr.Examples(examples=[[str(p)] for p in video_examples], inputs=[video_in],
                            example_labels=[example_label(p) for p in video_examples], **private)
        with gr.Tab("Model"):
            ckpt_status = gr.Markdown(elem_id="model-status")
            card = gr.Markdown(analysis.card_markdown(detector, source="built-in"), elem_id="model-card")
            if checkpoint_loader is not None:
                ckpt_in = gr.File(
                    label="Load a local checkpoint: an official .pth, or a .safetensors with its .json card",
                    file_count="multiple", file_types=[*CHECKPOINT_SUFFIXES, ".json"],
                )
                with gr.Row():
                    ckpt_btn = gr.Button("Load checkpoint for this session")
                    builtin_btn = gr.Button("Use the built-in model")
                ckpt_btn.click(
                    user_errors(handlers.load_checkpoint,
                                panel_error("Not loaded", lambda: (gr.skip(), gr.skip()))),
                    inputs=[ckpt_in], outputs=[ckpt_status, card, session_key],
                    preprocess=False, **private, **model_queue,
                )
                builtin_btn.click(handlers.use_builtin, outputs=[ckpt_status, card, session_key], **private)
    demo.queue(max_size=limits.queue_size, default_concurrency_limit=limits.concurrency_limit)
    return demo


def analysing(n: int) -> Callable[[], tuple[Any, ...]]:
    """Clears every output of a tab when a new run starts, with a note in the result panel."""
    return lambda: ("*Analysing…*", *(None,) * (n - 1))


def launch_kwargs(host: str, port: int, share: bool, limits: DemoLimits) -> dict[str, Any]:
    """Arguments for `demo.launch`: explicit host/port/share, the upload limit, and no error details."""
    return {
        "server_name": host, "server_port": port, "share": share,
        "max_file_size": limits.max_upload, "show_error": False,
    }
