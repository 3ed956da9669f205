"""The Gradio app: the page's layout and which handler each event calls (the handlers are in `handlers`)."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

import gradio as gr
from laanet_synth.media import VIDEO_SUFFIXES

from laanet_demo import analysis
from laanet_demo.checkpoint_upload import CHECKPOINT_SUFFIXES, load_checkpoint_detector
from laanet_demo.examples import Example, caption, shipped
from laanet_demo.handlers import DemoHandlers, cleared, panel_error, user_errors
from laanet_demo.inference import FACE_COLUMNS
from laanet_demo.limits import DemoLimits
from laanet_demo.outputs import OutputFiles
from laanet_demo.pool import DetectorPool
from laanet_demo.request_limit import InlineDataUrls, RequestSizeLimit
from laanet_demo.uploads import upload_limit_bytes

VIDEO_UPLOAD_SUFFIXES = tuple(sorted(VIDEO_SUFFIXES))
IMAGE_FORMATS_NOTE = "JPEG, PNG, WebP, BMP or TIFF"
VIDEO_FORMATS_NOTE = "MP4, WebM, AVI, MOV or MKV (H.264, VP8/VP9, MPEG-4 Part 2 and other codecs OpenCV reads)"

CSS = """
.laanet-error{background:#fdecea;border:1px solid #f1aeb5;border-left:6px solid #c82333;color:#842029;
  padding:.6em .9em;border-radius:4px}
.bar{position:relative;height:18px;border:1px solid #999;border-radius:3px;margin:.4em 0 .1em;max-width:520px}
.bar span{position:absolute;top:0;bottom:0}
.bar b{position:absolute;top:-4px;bottom:-4px;width:4px;margin-left:-2px;background:#222}
.ticks{display:flex;justify-content:space-between;max-width:520px;font-size:.8em;color:#555}
#image-gallery .grid-wrap,#video-gallery .grid-wrap,#video-people .grid-wrap{max-height:none!important}
.laanet-examples .thumbnail-item{aspect-ratio:auto!important;height:150px!important}
#image-gallery .thumbnail-item{aspect-ratio:5/3!important}
#video-gallery .thumbnail-item{aspect-ratio:2/1!important}
#image-gallery .caption-label{display:none}
.laanet-gallery .caption-label{white-space:normal!important;overflow:visible!important;text-overflow:clip!important;
  max-width:none!important;left:4px!important;right:4px!important;line-height:1.25;font-size:12px}
"""


def accepted_inputs_markdown(limits: DemoLimits, what: str, min_face: int) -> str:
    """The formats and limits of one tab, stated under its input."""
    mb = 1024 * 1024
    if what == "image":
        return (f"<small>Accepted: {IMAGE_FORMATS_NOTE}; up to {limits.max_image_bytes // mb} MB and "
                f"{limits.max_image_pixels / 1e6:.0f} megapixels. Faces narrower than {min_face} px are not "
                f"judged.</small>")
    return (f"<small>Accepted: {VIDEO_FORMATS_NOTE}; up to {limits.max_video_bytes // mb} MB, frames up to "
            f"{limits.max_image_pixels / 1e6:.0f} megapixels and {limits.max_video_pixels / 1e6:.0f} megapixels "
            f"in all; {limits.min_video_frames} to {limits.max_video_frames} frames are sampled. Videos browsers "
            f"cannot play get a frame strip as preview.</small>")


def point_api_example(component: Any, example: Example | None) -> None:
    """Make the "Use via API" sample of `component` point at a shipped example file instead of an online one."""
    if example is None:
        return
    from gradio_client import handle_file

    path = str(example.path)
    component.example_payload = lambda: handle_file(path)
    component.example_value = lambda: path


def examples_gallery(examples: Sequence[Example], elem_id: str) -> gr.Gallery:
    """Thumbnails of the shipped examples, each captioned with what it is, the model's outcome and its source."""
    return gr.Gallery(
        value=[(str(e.thumbnail), caption(e)) for e in examples], label="Examples: click one to run it",
        columns=max(4, len(examples)), rows=1, height=190, allow_preview=False, object_fit="cover",
        interactive=False, elem_id=elem_id, buttons=[], elem_classes=["laanet-gallery", "laanet-examples"],
        fit_columns=False,
    )


def example_picker(examples: Sequence[Example]) -> Callable[[gr.SelectData], str]:
    def pick(evt: gr.SelectData) -> str:
        return str(examples[evt.index].path)

    return pick


def analysing(n: int) -> Callable[[], tuple[Any, ...]]:
    """Clears every output of a tab when a new run starts, with a note in the result panel."""
    return lambda: ("*Analysing…*", *(None,) * (n - 1))


def analyse_buttons(what: str) -> tuple[gr.Button, gr.Button]:
    """A tab's "Analyse" button (enabled once there is an input) and the hidden button behind its API endpoint."""
    button = gr.Button(f"Analyse {what}", variant="primary", elem_id=f"{what}-analyse", interactive=False)
    return button, gr.Button(visible=False)


def result_column(what: str, report_label: str) -> tuple[gr.Markdown, gr.Label, gr.File]:
    """A tab's result column: the summary, the verdict bar and the report files (``<what>-summary``, ...)."""
    with gr.Column(scale=2):
        summary = gr.Markdown(label="Summary", elem_id=f"{what}-summary")
        label = gr.Label(label=f"{what.capitalize()} verdict (bar: the score from 0 to 1)", elem_id=f"{what}-label",
                         show_heading=False)
        report = gr.File(label=report_label, file_count="multiple", interactive=False, elem_id=f"{what}-report")
    return summary, label, report


def build_demo(
    detector: Any,
    *,
    limits: DemoLimits | None = None,
    with_examples: bool = True,
    checkpoint_loader: Callable[[str], Any] | None = load_checkpoint_detector,
    note: str | None = None,
    outputs: OutputFiles | None = None,
) -> gr.Blocks:
    """Build the app around one Detector. Every model call goes through it (or a checkpoint the user loads).

    `note` is shown under the title (for example to say that the model is not a trained one). In the browser,
    errors show in the result panel; the API endpoints (`/predict_image`, `/predict_video`) raise them.
    Result files go to `outputs` (the caller closes it when the server stops; a new one by default).
    """
    limits = limits or DemoLimits()
    handlers = DemoHandlers(DetectorPool(detector, checkpoint_loader), limits,
                            outputs or OutputFiles(max_files=limits.max_outputs))
    model_queue = {"concurrency_limit": limits.concurrency_limit, "concurrency_id": "model"}
    # previews decode frames but never touch the model: their own queue, so they neither wait for nor block analyses
    preview_queue = {"concurrency_limit": limits.concurrency_limit, "concurrency_id": "preview"}
    private = {"api_visibility": "private"}
    image_examples = shipped("image") if with_examples else []
    video_examples = shipped("video") if with_examples else []
    min_face = detector.preprocessing.min_face_size

    with gr.Blocks(title="LAA-Net deepfake detector", delete_cache=(1800, 3600)) as demo:
        session_key = gr.State(None)
        gr.Markdown(
            "# LAA-Net deepfake detector\n"
            "Finds every face, scores how likely it is to be a face swap or blend, and shows where the model sees "
            "blending. Scores are model outputs, not proof."
        )
        if note:
            gr.Markdown(f"**{html.escape(note)}**")
        with gr.Tab("Image"):
            if image_examples:
                image_gallery_examples = examples_gallery(image_examples, "image-examples")
            with gr.Row():
                with gr.Column(scale=1):
                    image_in = gr.Image(
                        label="Photo", type="filepath", sources=["upload", "webcam", "clipboard"],
                        elem_id="image-input", height=320,
                    )
                    gr.Markdown(accepted_inputs_markdown(limits, "image", min_face))
                    image_btn, image_api = analyse_buttons("image")
                image_summary, image_label, image_report = result_column("image", "Report (JSON, readable HTML, overlay)")
            image_overlay = gr.Image(
                label="Faces and artifact heatmaps (colour scale below the picture)", type="filepath",
                interactive=False, elem_id="image-overlay",
            )
            image_gallery = gr.Gallery(
                label="Faces, most fake first: crop | heatmap", columns=3, height="auto", object_fit="contain",
                elem_id="image-gallery", allow_preview=True, fit_columns=False, elem_classes=["laanet-gallery"],
            )
            image_table = gr.Dataframe(label="Faces", headers=FACE_COLUMNS, interactive=False)
            with gr.Accordion("Details (model, recipe, timings)", open=False):
                image_details = gr.JSON(label="Details")
            image_outputs = [image_summary, image_label, image_overlay, image_gallery, image_table, image_details,
                             image_report]
            in_panel = user_errors(handlers.predict_image,
                                   panel_error("Not analysed", cleared(len(image_outputs) - 1)))
            n_image = len(image_outputs)
            image_in.change(lambda v: handlers.image_changed(v, n_image), inputs=[image_in],
                            outputs=[image_btn, *image_outputs], queue=False, preprocess=False, **private)
            image_btn.click(
                analysing(n_image), outputs=image_outputs, queue=False, **private,
            ).then(in_panel, inputs=[image_in, session_key], outputs=image_outputs, preprocess=False,
                   api_name="show_image_analysis", **private, **model_queue)
            image_api.click(
                user_errors(handlers.predict_image), inputs=[image_in, session_key], outputs=image_outputs,
                api_name="predict_image", preprocess=False, **model_queue,
            )
            point_api_example(image_in, next((e for e in image_examples if e.file.startswith("portrait")),
                                             image_examples[0] if image_examples else None))
            if image_examples:
                image_gallery_examples.select(
                    example_picker(image_examples), outputs=[image_in], queue=False, **private,
                ).then(analysing(n_image), outputs=image_outputs, queue=False, **private,
                       ).then(in_panel, inputs=[image_in, session_key], outputs=image_outputs, preprocess=False,
                              **private, **model_queue)
        with gr.Tab("Video"):
            if video_examples:
                video_gallery_examples = examples_gallery(video_examples, "video-examples")
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
                        limits.min_video_frames, limits.max_video_frames,
                        value=limits.clamp_frames(analysis.frames_for(detector, None)),
                        step=1, label="Frames to sample (evenly spaced)", elem_id="video-frames",
                    )
                    video_btn, video_api = analyse_buttons("video")
                video_summary, video_label, video_report = result_column("video", "Report (JSON, readable HTML)")
            video_plot = gr.Plot(label="Per-frame, per-face scores over the video", elem_id="video-plot")
            video_gallery = gr.Gallery(
                label="Most suspicious frames: the most fake face | the frame", columns=2, height="auto",
                object_fit="contain", elem_id="video-gallery", fit_columns=False, elem_classes=["laanet-gallery"],
            )
            video_table = gr.Dataframe(
                label="Frames", headers=["frame", "faces", "frame score", "verdict"], interactive=False,
            )
            video_people = gr.Gallery(
                label="People (each person's score over their own faces)", columns=6, height=300,
                object_fit="contain", elem_id="video-people", fit_columns=False, elem_classes=["laanet-gallery"],
            )
            with gr.Accordion("Details (model, timings, every face)", open=False):
                video_details = gr.JSON(label="Details")
            video_outputs = [video_summary, video_label, video_plot, video_gallery, video_table, video_details,
                             video_people, video_report]
            n_video = len(video_outputs)
            video_in.change(lambda v: handlers.video_changed(v, n_video), inputs=[video_in],
                            outputs=[video_btn, *video_outputs], queue=False, preprocess=False, **private)
            video_in.change(handlers.video_preview, inputs=[video_in],
                            outputs=[video_player, video_preview, video_preview_note],
                            preprocess=False, **private, **preview_queue)
            video_in_panel = user_errors(handlers.predict_video,
                                         panel_error("Not analysed", cleared(n_video - 1)))
            video_btn.click(
                analysing(n_video), outputs=video_outputs, queue=False, **private,
            ).then(
                video_in_panel, inputs=[video_in, video_frames, session_key], outputs=video_outputs,
                preprocess=False, api_name="show_video_analysis", **private, **model_queue,
            )
            video_api.click(
                user_errors(handlers.predict_video), inputs=[video_in, video_frames, session_key],
                outputs=video_outputs, api_name="predict_video", preprocess=False, **model_queue,
            )
            point_api_example(video_in, video_examples[0] if video_examples else None)
            if video_examples:
                video_gallery_examples.select(
                    example_picker(video_examples), outputs=[video_in], queue=False, **private,
                ).then(analysing(n_video), outputs=video_outputs, queue=False, **private,
                       ).then(video_in_panel, inputs=[video_in, video_frames, session_key], outputs=video_outputs,
                              preprocess=False, **private, **model_queue)
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


def launch_kwargs(host: str, port: int, share: bool, limits: DemoLimits,
                  outputs: OutputFiles | None = None) -> dict[str, Any]:
    """Arguments for `demo.launch`: explicit host/port/share, the upload limit, a size limit on every request,
    files sent inline as `data:` URLs decoded into `outputs` (the app's result folder; a new one by default),
    the page's styles, and no error details."""
    from starlette.middleware import Middleware

    middleware = [
        Middleware(RequestSizeLimit, max_body=limits.max_request_bytes,
                   max_upload=upload_limit_bytes(limits.max_upload)),
        Middleware(InlineDataUrls, outputs=outputs or OutputFiles(max_files=limits.max_outputs)),
    ]
    return {
        "server_name": host, "server_port": port, "share": share,
        "max_file_size": limits.max_upload, "show_error": False, "css": CSS,
        "app_kwargs": {"middleware": middleware},
    }
