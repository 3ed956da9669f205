"""The Gradio demo: every face of a photo or video, its fake probability and where the model sees blending."""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import html
import logging
import os
import shutil
import tempfile
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from laanet_synth.atomic import write_atomic
from laanet_synth.media import is_image

from laanet_demo import analysis, render
from laanet_demo.inference import FACE_COLUMNS, face_record, face_rows, label_value, verdict_markdown
from laanet_demo.limits import DemoLimits, InputRejected

log = logging.getLogger("laanet_demo")

DEFAULT_WEIGHTS = "laanet-lite0-sbi-lfw"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
GENERIC_ERROR = (
    "Something went wrong while analysing this input, and nothing was scored. "
    "Please try another file; if it keeps happening, the server log has the details."
)
CHECKPOINT_SUFFIXES = (".safetensors", ".pth", ".pt", ".ckpt", ".bin")


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn InputRejected into a gr.Error with its message, and anything unexpected into a generic gr.Error.

    The traceback of an unexpected error goes to the server log only, never to the user.
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except InputRejected as err:
            raise gr.Error(html.escape(str(err)), print_exception=False) from None
        except Exception:
            log.exception("unexpected error in %s", fn.__name__)
            raise gr.Error(GENERIC_ERROR, print_exception=False) from None

    return wrapper


def payload_path(payload: Any, what: str, tmp_dir: Path | None = None) -> Path:
    """Local path of an uploaded file, whatever form Gradio hands it over in (path, FileData, dict, data URL)."""
    if payload is None or payload == "":
        raise InputRejected(f"No {what} was given; please upload one first.")
    if isinstance(payload, (str, os.PathLike)):
        return Path(payload)
    if isinstance(payload, dict):
        if isinstance(payload.get("video"), dict):
            return payload_path(payload["video"], what, tmp_dir)
        path, url = payload.get("path"), payload.get("url")
    else:
        path, url = getattr(payload, "path", None), getattr(payload, "url", None)
    if path:
        return Path(path)
    if isinstance(url, str) and url.startswith("data:"):
        try:
            data = base64.b64decode(url.split(",", 1)[1], validate=False)
        except (IndexError, ValueError) as err:
            raise InputRejected(f"The {what} data could not be decoded; please upload it again.") from err
        fd, name = tempfile.mkstemp(suffix=".upload", dir=tmp_dir)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return Path(name)
    raise InputRejected(f"The {what} upload did not arrive complete; please upload it again.")


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
        digest = hashlib.sha256(weights.read_bytes()).hexdigest()
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


def pick_checkpoint_files(paths: Sequence[Path]) -> tuple[Path, list[Path]]:
    """The weights file and the JSON card(s) among uploaded files; InputRejected when they do not fit."""
    if not paths:
        raise InputRejected("No checkpoint file was given; please upload one first.")
    weights = [p for p in paths if p.suffix.lower() in CHECKPOINT_SUFFIXES]
    cards = [p for p in paths if p.suffix.lower() == ".json"]
    others = [p for p in paths if p not in weights and p not in cards]
    if others or len(weights) != 1 or len(cards) > 1:
        names = ", ".join(html.escape(p.name) for p in paths)
        raise InputRejected(
            "Upload one checkpoint: an official LAA-Net .pth file, or a .safetensors file together with its "
            f".json card (both at once). Got: {names}."
        )
    if weights[0].suffix.lower() == ".safetensors" and not cards:
        raise InputRejected(
            f"'{html.escape(weights[0].name)}' needs its JSON card: select the .safetensors file and the .json "
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
        detail = html.escape(str(err).replace(str(Path(path).parent) + os.sep, ""))
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
        from PIL import Image

        target = self.folder() / f"{stem}-{uuid.uuid4().hex}.jpg"
        picture = Image.fromarray(image)
        write_atomic(target, lambda fh: picture.save(fh, format="JPEG", quality=self._quality))
        return str(target)


class DemoHandlers:
    """The functions behind the app's events (plain methods, so tests can call them without a browser)."""

    def __init__(self, pool: DetectorPool, limits: DemoLimits, images: OutputImages | None = None) -> None:
        self.pool = pool
        self.limits = limits
        self.images = images or OutputImages()

    def image_outputs(self, result: analysis.ImageAnalysis, detector: Any) -> tuple[Any, ...]:
        bands = analysis.bands_for(detector)
        rule = analysis.describe_rules(detector)
        overlay = self.images.write(render.overlay_image(result.image, result.faces), "overlay")
        gallery = [
            (self.images.write(render.face_tile(f), f"face{f.index}"), render.face_caption(f))
            for f in result.faces if f.crop is not None
        ]
        details = {
            "kind": "image",
            "n_faces": result.n_faces_found,
            "n_faces_scored": len(result.faces),
            "prob": None if result.prob is None else round(result.prob, 6),
            "verdict": None if result.prob is None else bands.verdict(result.prob),
            "aggregation": rule,
            "frame_rule": analysis.frame_rule_for(detector),
            "faces": [face_record(f) for f in result.faces],
            "timings_ms": result.timings_ms,
            "model": analysis.model_summary(detector),
        }
        summary = verdict_markdown(result.prob, bands, "image", rule, len(result.faces))
        if result.n_faces_found > len(result.faces):
            summary += (f"\n\nThe score covers all {result.n_faces_found} faces; the {len(result.faces)} largest "
                        "are shown.")
        table = {"headers": FACE_COLUMNS, "data": face_rows(result.faces)}
        return summary, label_value(result.prob, bands), overlay, gallery, table, details

    def predict_image(self, image: Any, session_key: str | None = None) -> tuple[Any, ...]:
        """Score every face in one uploaded image."""
        detector = self.pool.get(session_key)
        path = payload_path(image, "image")
        result = analysis.analyse_image(detector, path, self.limits)
        if not result.faces:
            raise InputRejected(
                "No face was found in this image. Upload a photo where at least one face is visible, "
                "roughly frontal and at least about 60 pixels wide."
            )
        return self.image_outputs(result, detector)

    def predict_video(
        self, video: Any, n_frames: Any = None, session_key: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio injects the event's tracker through this default
    ) -> tuple[Any, ...]:
        """Score the faces in evenly sampled frames of one uploaded video."""
        detector = self.pool.get(session_key)
        path = payload_path(video, "video")
        k = self._frame_count(n_frames)

        def report(done: int, total: int) -> None:
            progress((done, total), desc="scoring frames", unit="frames")

        result = analysis.analyse_video(detector, path, k, self.limits, progress=report)
        if result.n_faces == 0:
            raise InputRejected(
                f"No face was found in any of the {len(result.frames)} sampled frames of this video, "
                "so it cannot be scored. Try a video where a face is clearly visible."
            )
        return self.video_outputs(result, detector)

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

    def video_outputs(self, result: analysis.VideoAnalysis, detector: Any) -> tuple[Any, ...]:
        bands = analysis.bands_for(detector)
        rule = analysis.describe_rules(detector)
        frames = result.frames
        fig = render.timeline_figure(
            [f.frame_number for f in frames], [[x.prob for x in f.faces] for f in frames],
            [f.prob for f in frames], bands, result.prob, rule,
        )
        top = analysis.most_suspicious_frames(result, self.limits.suspicious_frames)
        gallery = [
            (self.images.write(render.overlay_scaled(f.display, f.faces, f.display_scale), f"frame{f.frame_number}"),
             f"frame {f.frame_number} · score {f.prob:.3f} · {bands.verdict(f.prob)}")
            for f in top if f.prob is not None
        ]
        rows = [
            [f.frame_number, len(f.faces), None if f.prob is None else round(f.prob, 4),
             "" if f.prob is None else bands.verdict(f.prob)]
            for f in frames
        ]
        details = {
            "kind": "video",
            "n_frames_sampled": len(frames),
            "n_frames_total": result.n_frames_total,
            "n_frames_with_face": sum(1 for f in frames if f.faces),
            "n_faces": result.n_faces,
            "prob": None if result.prob is None else round(result.prob, 6),
            "verdict": None if result.prob is None else bands.verdict(result.prob),
            "aggregation": rule,
            "frame_rule": analysis.frame_rule_for(detector),
            "frames": [
                {"frame": f.frame_number, "prob": None if f.prob is None else round(f.prob, 6),
                 "faces": [face_record(x) for x in f.faces]}
                for f in frames
            ],
            "timings_ms": result.timings_ms,
            "model": analysis.model_summary(detector),
        }
        summary = verdict_markdown(result.prob, bands, "video", rule, result.n_faces)
        summary += (f"\n\n{details['n_frames_with_face']} of {len(frames)} sampled frames had a face.")
        table = {"headers": ["frame", "faces", "frame score", "verdict"], "data": rows}
        return summary, label_value(result.prob, bands), fig, gallery, table, details

    def load_checkpoint(self, files: Any) -> tuple[str, str | None]:
        """Load an uploaded checkpoint for this session; returns the card text and the session key."""
        if files is None or isinstance(files, (str, dict, os.PathLike)):
            files = [] if files is None else [files]
        paths = [payload_path(f, "checkpoint") for f in files]
        key = self.pool.load(paths)
        det = self.pool.get(key)
        names = ", ".join(f"`{html.escape(p.name)}`" for p in paths)
        return analysis.card_markdown(det, source=f"uploaded {names} (this session only)"), key

    def use_builtin(self) -> tuple[str, None]:
        """Go back to the built-in model for this session."""
        return analysis.card_markdown(self.pool.default, source="built-in"), None


def _example_images(examples_dir: Path | None) -> list[str]:
    if examples_dir is None or not examples_dir.is_dir():
        return []
    return sorted(str(p) for p in examples_dir.iterdir() if is_image(p))


def build_demo(
    detector: Any,
    *,
    limits: DemoLimits | None = None,
    examples_dir: Path | None = EXAMPLES_DIR,
    checkpoint_loader: Callable[[str], Any] | None = load_checkpoint_detector,
    note: str | None = None,
) -> gr.Blocks:
    """Build the app around one Detector. Every model call goes through it (or a checkpoint the user loads).

    `note` is shown under the title (for example to say that the model is not a trained one).
    """
    limits = limits or DemoLimits()
    handlers = DemoHandlers(DetectorPool(detector, checkpoint_loader), limits)
    model_queue = {"concurrency_limit": limits.concurrency_limit, "concurrency_id": "model"}

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
                    image_btn = gr.Button("Analyse image", variant="primary", elem_id="image-analyse")
                with gr.Column(scale=2):
                    image_summary = gr.Markdown(label="Summary", elem_id="image-summary")
                    image_label = gr.Label(label="Image verdict", elem_id="image-label")
            image_overlay = gr.Image(
                label="Faces and artifact heatmaps", type="filepath", interactive=False, elem_id="image-overlay",
            )
            image_gallery = gr.Gallery(
                label="Face crops | heatmaps", columns=3, height="auto", object_fit="contain",
            )
            image_table = gr.Dataframe(label="Faces", headers=FACE_COLUMNS, interactive=False)
            with gr.Accordion("Details (model, recipe, timings)", open=False):
                image_details = gr.JSON(label="Details")
            image_outputs = [image_summary, image_label, image_overlay, image_gallery, image_table, image_details]
            image_btn.click(
                user_errors(handlers.predict_image), inputs=[image_in, session_key], outputs=image_outputs,
                api_name="predict_image", preprocess=False, **model_queue,
            )
            examples = _example_images(examples_dir)
            if examples:
                gr.Examples(
                    examples=[[p] for p in examples], inputs=[image_in], outputs=image_outputs,
                    fn=user_errors(handlers.predict_image), cache_examples=True, cache_mode="lazy",
                    preprocess=False, api_visibility="private",
                )
        with gr.Tab("Video"):
            with gr.Row():
                with gr.Column(scale=1):
                    video_in = gr.Video(label="Video", sources=["upload"], elem_id="video-input")
                    video_frames = gr.Slider(
                        limits.min_video_frames, limits.max_video_frames, value=limits.default_video_frames,
                        step=1, label="Frames to sample (evenly spaced)",
                    )
                    video_btn = gr.Button("Analyse video", variant="primary", elem_id="video-analyse")
                with gr.Column(scale=2):
                    video_summary = gr.Markdown(label="Summary", elem_id="video-summary")
                    video_label = gr.Label(label="Video verdict", elem_id="video-label")
            video_plot = gr.Plot(label="Per-frame, per-face scores")
            video_gallery = gr.Gallery(
                label="Most suspicious frames", columns=2, height="auto", object_fit="contain",
            )
            video_table = gr.Dataframe(
                label="Frames", headers=["frame", "faces", "frame score", "verdict"], interactive=False,
            )
            with gr.Accordion("Details (model, timings, every face)", open=False):
                video_details = gr.JSON(label="Details")
            video_btn.click(
                user_errors(handlers.predict_video), inputs=[video_in, video_frames, session_key],
                outputs=[video_summary, video_label, video_plot, video_gallery, video_table, video_details],
                api_name="predict_video", preprocess=False, **model_queue,
            )
        with gr.Tab("Model"):
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
                    user_errors(handlers.load_checkpoint), inputs=[ckpt_in], outputs=[card, session_key],
                    preprocess=False, api_visibility="private", **model_queue,
                )
                builtin_btn.click(handlers.use_builtin, outputs=[card, session_key], api_visibility="private")
    demo.queue(max_size=limits.queue_size, default_concurrency_limit=limits.concurrency_limit)
    return demo


def launch_kwargs(host: str, port: int, share: bool, limits: DemoLimits) -> dict[str, Any]:
    """Arguments for `demo.launch`: explicit host/port/share, the upload limit, and no error details."""
    return {
        "server_name": host, "server_port": port, "share": share,
        "max_file_size": limits.max_upload, "show_error": False,
    }


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="laanet-demo", description=__doc__)
    p.add_argument("--weights", default=DEFAULT_WEIGHTS,
                   help=f"registered weight name or checkpoint path (default: {DEFAULT_WEIGHTS})")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help=f"address to bind (default: {DEFAULT_HOST}, this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    p.add_argument("--concurrency", type=int, default=DemoLimits.concurrency_limit,
                   help="model calls running at once (default: %(default)s)")
    p.add_argument("--max-upload", default=DemoLimits.max_upload, help="largest upload (default: %(default)s)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    """Console script `laanet-demo`."""
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from laanet_model.detector import Detector

    limits = DemoLimits(concurrency_limit=args.concurrency, max_upload=args.max_upload)
    try:
        detector = Detector.from_weights(args.weights)
    except Exception as err:  # noqa: BLE001 - a start-up failure is reported in one line
        raise SystemExit(f"laanet-demo: cannot load weights {args.weights!r}: {err}") from err
    demo = build_demo(detector, limits=limits)
    demo.launch(**launch_kwargs(args.host, args.port, args.share, limits))


if __name__ == "__main__":
    main()
