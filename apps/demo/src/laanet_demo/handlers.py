"""The functions behind the app's events (plain methods, so that tests can call them without a browser), and
how errors reach the user: a plain message, in the result panel in the browser, as an error to API clients."""

from __future__ import annotations

import contextlib
import functools
import html
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gradio as gr
from laanet_model.checkpoints import file_sha256

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
from laanet_demo.limits import DemoLimits, InputRejected, check_image_header, check_video_budget
from laanet_demo.outputs import OutputFiles
from laanet_demo.pool import DetectorPool
from laanet_demo.uploads import (
    local_file,
    payload_path,
    upload_limit_bytes,
    upload_name,
    uploaded_file,
)

log = logging.getLogger("laanet_demo")

GENERIC_ERROR = (
    "Something went wrong while analysing this input, and nothing was scored. "
    "Please try another file; if it keeps happening, the server log has the details."
)
#: what the result panel says once the input has changed and the old result has been cleared
AWAITING = "*Ready: click **Analyse** to score {name}.*"
PREVIEW_FRAMES = 6


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
    """An error for the result panel, styled as one (the `laanet-error` class), with HTML characters escaped."""
    return (f'<div class="laanet-error" role="alert"><strong>{html.escape(title)}</strong><br>'
            f"{html.escape(message, quote=False)}</div>")


def panel_error(title: str, rest: Callable[[], tuple[Any, ...]]) -> Callable[[str], tuple[Any, ...]]:
    """For `user_errors`: the message goes into the first output (the result panel) instead of a fading
    toast, and the other outputs get `rest()` (cleared, or left as they are with `gr.skip()`)."""
    return lambda message: (error_markdown(title, message), *rest())


def cleared(n: int) -> Callable[[], tuple[Any, ...]]:
    """A function giving `n` empty output values."""
    return lambda: (None,) * n


def verdict_of(prob: float | None, bands: Any, unjudged: Sequence[Any]) -> str | None:
    """The verdict word of a score; "not judged" when only faces not judged were found; None without
    any face."""
    if prob is not None:
        return bands.verdict(prob)
    return NOT_JUDGED if unjudged else None


def people_markdown(people: Sequence[analysis.PersonAnalysis], n_frames: int, bands: Any) -> str:
    """One line per person found in the video (the clip verdict above is the weight's frame and video rule)."""
    if not people:
        return ""
    lines = [f"\n\n**{len(people)} {'person' if len(people) == 1 else 'people'}** ({PERSON_RULE}):"]
    lines += [f"- person {p.person}: **{p.verdict}** · score {p.prob:.3f} ({band_text(p.prob, bands)}), in "
              f"{len(p.timeline)} of {n_frames} sampled frames" for p in people]
    return "\n".join(lines)


def label_output(prob: float | None, bands: Any, unjudged: int = 0) -> dict[str, float] | str:
    """The `gr.Label` value: the verdict text with the score as its confidence, which the browser draws as a
    bar (API clients get `{"label": text, "confidences": [{"label": text, "confidence": score}]}`)."""
    text = label_value(prob, bands, unjudged)
    return text if prob is None else {text: round(float(prob), 6)}


def result_heading(name: str | None, detector: Any, what: str) -> str:
    """The line that ties a result to its file and its weights."""
    shown = html.escape(name or f"an uploaded {what}", quote=False).replace("`", "'")
    return f"**File:** `{shown}` · **Weights:** {html.escape(analysis.weights_line(detector), quote=False)}"


#: the timeline's description, which the browser uses as the picture's alt text ("<chart> plot visualising ...")
TIMELINE_DESCRIPTION = "Timeline of every face's fake score in each sampled frame, with the frame score and verdict bands:"


def described_plot(fig: Any, description: str) -> Any:
    """A matplotlib figure as Gradio's plot value, with a description for screen readers (Gradio's own value
    leaves it "undefined")."""
    from gradio.components.plot import PlotData
    from gradio.processing_utils import encode_plot_to_base64

    class DescribedPlot(PlotData):
        chart: str

    return DescribedPlot(type="matplotlib", plot=encode_plot_to_base64(fig, "png"), chart=description)


def score_bar(prob: float | None, bands: Any) -> str:
    """The score on a 0-to-1 bar with the verdict bands coloured."""
    return report.score_bar_html(prob, bands.real_below, bands.fake_above)


def no_face_note(score: float | None, detector: Any) -> str:
    """What the weights' recipe gives an input with no judged face (``Preprocessing.no_face``), for the message
    that says no face was found: the demo shows no verdict then, since that score says nothing about a face."""
    if score is None:
        return ""
    return (f" (Under this model's recipe an input without a face gets a score by one rule, "
            f"{analysis.no_face_rule_for(detector)}: {score:.3f}. That number says nothing about a face, so no "
            "verdict is shown.)")


class DemoHandlers:
    """The functions behind the app's events (plain methods, so tests can call them without a browser)."""

    def __init__(
        self, pool: DetectorPool, limits: DemoLimits, images: OutputFiles | None = None,
        tmp_dir: Path | None = None,
    ) -> None:
        self.pool = pool
        self.limits = limits
        self.images = images or OutputFiles(max_files=limits.max_outputs)
        self.tmp_dir = tmp_dir
        """Where `data:` URL uploads are decoded (the system temporary folder by default); deleted after use."""

    # ---------------------------------------------------------------- reports
    def _report(self, details: dict[str, Any], name: str | None, sha: str | None, stem: str, detector: Any,
                pictures: Sequence[tuple[str, str]], overlay: str | None) -> list[str]:
        """The downloadable report files: the JSON record, the readable HTML page, and the overlay when there
        is one."""
        record = report.report_record(details, name, sha)
        limits = analysis.limits_sentences(analysis.measured_limits(detector))
        note = f"{render.HEATMAP_EXPLAINED} {analysis.heatmap_localisation(detector)[1]}"
        files = [self.images.write_text(report.report_json(record), stem, ".json"),
                 self.images.write_text(report.report_html(record, pictures, overlay, limits, note), stem, ".html")]
        return files + ([overlay] if overlay else [])

    # ---------------------------------------------------------------- image
    def image_outputs(self, result: analysis.ImageAnalysis, detector: Any, name: str | None = None,
                      sha: str | None = None) -> tuple[Any, ...]:
        bands = analysis.bands_for(detector)
        rule = analysis.describe_rules(detector)
        strength, localisation = analysis.heatmap_localisation(detector)
        overlay = self.images.write(
            render.overlay_image(result.image, result.faces, unjudged=result.unjudged, strength=strength), "overlay")
        gallery = [
            (self.images.write(render.face_tile(f, strength=strength), f"face{f.index}"), render.face_caption(f))
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
        summary = (f"{result_heading(name, detector, 'image')}\n\n{score_bar(result.prob, bands)}\n\n{summary}\n\n"
                   f"<small>{render.HEATMAP_EXPLAINED} {localisation}</small>")
        table = {"headers": FACE_COLUMNS, "data": face_rows(result.faces, result.unjudged)}
        files = self._report(details, name, sha, "laanet-image-report", detector, gallery, overlay)
        label = label_output(result.prob, bands, len(result.unjudged))
        return summary, label, overlay, gallery, table, details, files

    def predict_image(self, image: Any, session_key: str | None = None) -> tuple[Any, ...]:
        """Score every face in one uploaded image."""
        detector = self.pool.get(session_key)
        with uploaded_file(image, "image", self.limits.max_image_bytes, self.tmp_dir) as path:
            result = analysis.analyse_image(detector, path, self.limits)
            sha = file_sha256(path)
        if not result.faces and not result.unjudged:
            raise InputRejected(
                "No face was found in this image. Upload a photo where at least one face is visible, "
                f"roughly frontal and at least {detector.preprocessing.min_face_size} pixels wide."
                + no_face_note(result.score, detector)
            )
        return self.image_outputs(result, detector, upload_name(image), sha)

    def image_changed(self, image: Any, n_outputs: int) -> tuple[Any, ...]:
        """A new image (or none): every result of the old one is cleared at once, and the new file is checked
        (header only) so that a bad upload gets its message now, in the result panel; returns the Analyse
        button's state and the tab's outputs."""
        rest = (None,) * (n_outputs - 1)
        if image is None:
            return gr.Button(interactive=False), "", *rest
        try:
            where = payload_path(image, "image")
            with local_file(where, "image", self.limits.max_image_bytes, self.tmp_dir) as path:
                check_image_header(path, self.limits)
        except InputRejected as err:
            return gr.Button(interactive=False), error_markdown("Cannot analyse this file", str(err)), *rest
        except Exception:
            log.exception("unexpected error checking an upload")
            return gr.Button(interactive=False), error_markdown("Cannot analyse this file", GENERIC_ERROR), *rest
        name = upload_name(image)
        ready = AWAITING.format(name=f"`{html.escape(name, quote=False)}`" if name else "this image")
        return gr.Button(interactive=True), ready, *rest

    # ---------------------------------------------------------------- video
    def predict_video(
        self, video: Any, n_frames: Any = None, session_key: str | None = None,
        progress: gr.Progress = gr.Progress(),  # noqa: B008 - Gradio injects the event's tracker through this default
    ) -> tuple[Any, ...]:
        """Score the faces in evenly sampled frames of one uploaded video."""
        detector = self.pool.get(session_key)
        k = self._frame_count(n_frames, detector)

        def report_progress(done: int, total: int) -> None:
            progress((done, total), desc="scoring frames", unit="frames")

        with uploaded_file(video, "video", self.limits.max_video_bytes, self.tmp_dir) as path:
            result = analysis.analyse_video(detector, path, k, self.limits, progress=report_progress)
            sha = file_sha256(path)
        if result.n_faces == 0 and not result.unjudged:
            raise InputRejected(
                f"No face was found in any of the {len(result.frames)} sampled frames of this video, "
                "so no face can be judged. Try a video where a face is clearly visible."
                + no_face_note(result.score, detector)
            )
        return self.video_outputs(result, detector, upload_name(video), sha)

    def _frame_count(self, n_frames: Any, detector: Any) -> int:
        """The frames to sample: ``n_frames`` when given and within the limits, else the weights' recipe's
        ``frames_per_video`` (kept within the limits)."""
        lim = self.limits
        if n_frames is None or n_frames == "":
            return lim.clamp_frames(analysis.frames_for(detector, None))
        try:
            k = int(float(n_frames))
        except (TypeError, ValueError, OverflowError) as err:
            raise InputRejected(f"Frames to sample must be a whole number, got {n_frames!r}.") from err
        if not lim.min_video_frames <= k <= lim.max_video_frames:
            raise InputRejected(
                f"Frames to sample must be between {lim.min_video_frames} and {lim.max_video_frames}, got {k}."
            )
        return k

    def video_outputs(self, result: analysis.VideoAnalysis, detector: Any, name: str | None = None,
                      sha: str | None = None) -> tuple[Any, ...]:
        bands = analysis.bands_for(detector)
        rule = analysis.describe_rules(detector)
        strength, localisation = analysis.heatmap_localisation(detector)
        frames = result.frames
        fig = render.timeline_figure(
            [f.frame_number for f in frames], [[x.prob for x in f.faces] for f in frames],
            [f.prob for f in frames], bands, result.prob, rule,
            people=[(f"person {p.person}", p.timeline) for p in result.people],
        )
        plot = described_plot(fig, TIMELINE_DESCRIPTION)
        top = analysis.most_suspicious_frames(result, self.limits.suspicious_frames)
        gallery = [
            (self.images.write(render.frame_tile(
                render.overlay_scaled(f.display, f.faces, f.display_scale, f.unjudged, strength),
                f.faces[0] if f.faces else None), f"frame{f.frame_number}"),
             f"frame {f.frame_number} · {bands.verdict(f.prob)} · {f.prob:.3f}")
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
        summary = (f"{result_heading(name, detector, 'video')}\n\n{score_bar(result.prob, bands)}\n\n{summary}\n\n"
                   f"<small>{render.HEATMAP_EXPLAINED} {localisation}</small>")
        table = {"headers": ["frame", "faces", "frame score", "verdict"], "data": rows}
        people = [
            (self.images.write(render.person_tile(p.thumbnail, p.verdict), f"person{p.person}"),
             f"person {p.person} · {p.verdict} · {p.prob:.3f} · {len(p.timeline)}/{len(frames)} frames")
            for p in result.people if p.thumbnail is not None
        ]
        files = self._report(details, name, sha, "laanet-video-report", detector, [*gallery, *people], None)
        label = label_output(result.prob, bands, len(result.unjudged))
        return summary, label, plot, gallery, table, details, people, files

    def video_changed(self, video: Any, n_outputs: int) -> tuple[Any, ...]:
        """A new video (or none): the old result is cleared at once; returns the Analyse button's state and the
        tab's outputs."""
        rest = (None,) * (n_outputs - 1)
        if video is None:
            return gr.Button(interactive=False), "", *rest
        name = upload_name(video)
        ready = AWAITING.format(name=f"`{html.escape(name, quote=False)}`" if name else "this video")
        return gr.Button(interactive=True), ready, *rest

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
                from laanet_synth.video import VideoReadError, video_info

                try:
                    info = video_info(path)
                except VideoReadError as err:
                    raise preview.PreviewError("the video cannot be opened") from err
                check_video_budget(info.n_frames, info.width, info.height, PREVIEW_FRAMES, self.limits)
                strip = self.images.write(preview.frame_strip(path, PREVIEW_FRAMES), "preview")
        except (InputRejected, preview.PreviewError) as err:
            return (*hidden, error_markdown("No preview", str(err)))
        note = (f"Browsers cannot play this video's codec ({codec}), so here are frames of it instead; "
                "the analysis reads the file as uploaded.")
        return hidden[0], gr.Image(value=strip, visible=True), note

    # ---------------------------------------------------------------- model tab
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
