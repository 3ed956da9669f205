"""Headless Chromium drives the running demo as a first-time user would and looks at what the page shows:
examples above the fold, a bad upload on a fresh page, an example click, a stale verdict cleared when the input
changes, readable face galleries (one face and twenty), the readable report downloaded, a video example run, and
a compact Model tab. Screenshots are saved for a person to look at."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
VIEWPORT = {"width": 1280, "height": 900}
#: narrowest a face tile may be shown, in CSS pixels (a crop | heatmap pair with its caption stays readable)
READABLE_TILE_PX = 250


def find_chromium() -> str | None:
    """Debian's chromium (never a downloaded browser)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def screenshot_dir() -> Path:
    """Where the screenshots are kept for a person to look at: $LAANET_SCREENSHOTS or outputs/screenshots."""
    env = os.environ.get("LAANET_SCREENSHOTS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "outputs" / "screenshots"


def twenty_faces(portrait: Path, out: Path) -> Path:
    """A 5 x 4 grid of one portrait: twenty faces in one picture."""
    from laanet_synth.imageio import read_image, write_image_atomic

    face = read_image(portrait)
    row = np.concatenate([face] * 5, axis=1)
    write_image_atomic(out, np.concatenate([row] * 4, axis=0), quality=90)
    return out


def _captions_whole(page, selector: str) -> list[str]:
    """Captions of a gallery that are cut (their text wider than their box)."""
    return page.eval_on_selector_all(
        f"{selector} .caption-label",
        "els => els.filter(e => e.scrollWidth > e.clientWidth + 1 || e.scrollHeight > e.clientHeight + 1)"
        ".map(e => e.textContent)")


def _captions_clipped(page, selector: str) -> list[str]:
    """Captions of a gallery that its scroll box hides (their bottom below the box's bottom)."""
    return page.eval_on_selector_all(
        f"{selector} .caption-label",
        "els => els.filter(e => e.getBoundingClientRect().bottom > "
        "e.closest('.grid-wrap').getBoundingClientRect().bottom + 1).map(e => e.textContent)")


def _tile_widths(page, selector: str) -> list[float]:
    return page.eval_on_selector_all(f"{selector} .thumbnail-item img",
                                     "els => els.map(e => e.getBoundingClientRect().width)")


@pytest.mark.browser
@pytest.mark.slow
def test_a_first_time_user_in_chromium(
    app_url: str, group_photo: Path, portrait: Path, bad_inputs: dict[str, Path], dfdc_video: Path,
    tmp_path: Path,
) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium found (install Debian's chromium: apt-get install -y chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    out = screenshot_dir()
    out.mkdir(parents=True, exist_ok=True)
    server_errors: list[str] = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT, accept_downloads=True)
            page.on("response", lambda r: server_errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
            page.goto(app_url, wait_until="domcontentloaded", timeout=60_000)
            button = page.locator("#image-analyse")
            button.wait_for(timeout=60_000)
            summary = page.locator("#image-summary")

            # 1. examples: thumbnails above the fold, each captioned whole
            thumbs = page.locator("#image-examples .thumbnail-item img")
            thumbs.first.wait_for(state="visible", timeout=60_000)
            assert thumbs.count() >= 5
            bottoms = page.eval_on_selector_all("#image-examples .thumbnail-item",
                                                "els => els.map(e => e.getBoundingClientRect().bottom)")
            assert max(bottoms) < VIEWPORT["height"], f"examples below the fold: {bottoms}"
            assert _captions_whole(page, "#image-examples") == [] == _captions_clipped(page, "#image-examples")
            captions = page.locator("#image-examples .caption-label").all_inner_texts()
            assert any("missed by this model" in c for c in captions) and all("(" in c for c in captions)
            page.screenshot(path=str(out / "demo-first-view.png"))

            # 2. a bad upload on a fresh page: a plain message styled as an error, the button stays disabled
            assert button.is_disabled(), "Analyse must be disabled while nothing is uploaded"
            page.locator("#image-input input[type=file]").set_input_files(str(bad_inputs["text_as_jpg"]))
            error = summary.locator(".laanet-error")
            error.wait_for(state="visible", timeout=60_000)
            error_text = error.inner_text()
            colour = error.evaluate("e => getComputedStyle(e).backgroundColor")
            assert button.is_disabled()
            page.screenshot(path=str(out / "demo-bad-upload.png"))
            page.locator("#image-input input[type=file]").set_input_files(str(bad_inputs["empty"]))
            page.wait_for_function(
                "document.querySelector('#image-summary').innerText.includes('empty')", timeout=60_000)
            empty_text = summary.inner_text()

            # 3. an example click runs it; the result names its file and its weights
            page.locator("#image-examples .thumbnail-item").first.click()
            summary.get_by_text("Image verdict").wait_for(timeout=240_000)
            page.wait_for_timeout(1000)
            example_text = summary.inner_text()
            one_face_widths = _tile_widths(page, "#image-gallery")
            one_face_cut = _captions_whole(page, "#image-gallery")
            bar = summary.locator(".bar b").count()
            page.screenshot(path=str(out / "demo-example-result.png"), full_page=True)

            # 4. a stale verdict: another file replaces the input, and the old verdict goes at once
            page.locator("#image-input input[type=file]").set_input_files(str(group_photo))
            page.wait_for_function(
                "document.querySelector('#image-summary').innerText.includes('selfie-many-people')",
                timeout=60_000)
            stale_text = summary.inner_text()
            stale_label = page.locator("#image-label").inner_text()
            stale_overlay = page.locator("#image-overlay img").count()
            page.screenshot(path=str(out / "demo-input-changed.png"))
            button.click()
            summary.get_by_text("Image verdict").wait_for(timeout=240_000)
            page.wait_for_timeout(1000)
            group_text = summary.inner_text()

            # 5. the readable report beside the JSON, downloaded as a user would
            link = page.locator('#image-report a[href*=".html"]').first
            with page.expect_download(timeout=60_000) as info:
                link.click()
            report = tmp_path / "report.html"
            info.value.save_as(report)

            # 6. twenty faces: every tile readable, every caption whole
            grid = twenty_faces(portrait, tmp_path / "twenty-faces.jpg")
            page.locator("#image-input input[type=file]").set_input_files(str(grid))
            page.wait_for_function("!document.querySelector('#image-analyse').disabled", timeout=60_000)
            button.click()
            summary.get_by_text("Image verdict").wait_for(timeout=400_000)
            # the gallery may arrive after the summary on a busy machine: wait for its twenty tiles
            page.wait_for_function(
                "document.querySelectorAll('#image-gallery .thumbnail-item img').length >= 20", timeout=120_000)
            page.wait_for_timeout(1500)
            twenty_widths = _tile_widths(page, "#image-gallery")
            twenty_cut = _captions_whole(page, "#image-gallery")
            page.screenshot(path=str(out / "demo-twenty-faces.png"), full_page=True)

            # 7. a video browsers cannot play gets a frame strip; the video example runs on click
            page.get_by_role("tab", name="Video").click()
            page.locator("#video-input input[type=file]").set_input_files(str(dfdc_video), timeout=60_000)
            page.locator("#video-preview img").first.wait_for(state="visible", timeout=120_000)
            note = page.locator("#video-preview-note").inner_text()
            video_captions_hidden = _captions_clipped(page, "#video-examples") + _captions_whole(page, "#video-examples")
            frames = page.locator("#video-frames input[type=number]")
            frames.fill("4")
            frames.press("Enter")
            page.locator("#video-examples .thumbnail-item").first.click()
            video_summary = page.locator("#video-summary")
            video_summary.get_by_text("Video verdict").wait_for(timeout=400_000)
            page.wait_for_timeout(1500)
            video_text = video_summary.inner_text()
            plot_alt = page.locator("#video-plot img").first.get_attribute("alt")
            frame_widths = _tile_widths(page, "#video-gallery")
            person = page.locator("#video-people .thumbnail-item img").first
            person.scroll_into_view_if_needed()
            page.wait_for_function("document.querySelector('#video-people .thumbnail-item img').naturalWidth > 0",
                                   timeout=30_000)
            person_width = person.evaluate("e => e.getBoundingClientRect().width")
            page.screenshot(path=str(out / "demo-video-example.png"), full_page=True)

            # 8. a compact Model tab
            page.get_by_role("tab", name="Model").click()
            page.locator("#model-card").get_by_text("sha256").wait_for(timeout=30_000)
            card_text = page.locator("#model-card").inner_text()
            model_height = page.evaluate("document.documentElement.scrollHeight")
            page.screenshot(path=str(out / "demo-model-tab.png"), full_page=True)
        finally:
            browser.close()

    assert server_errors == [], server_errors
    assert "not an image" in error_text and "Cannot analyse this file" in error_text
    assert colour not in ("rgba(0, 0, 0, 0)", "rgb(255, 255, 255)"), "the error is not styled as one"
    assert "empty" in empty_text and "Image verdict" not in empty_text
    assert "portrait-img12.jpg" in example_text and "laanet-lite0-sbi-lfw" in example_text
    assert "Measured limits of this model" in example_text and bar == 1
    assert len(one_face_widths) == 1 and READABLE_TILE_PX <= one_face_widths[0] < 700 and one_face_cut == []
    assert "Image verdict" not in stale_text and "Ready" in stale_text and "score 0." not in stale_label
    assert stale_overlay == 0
    assert "selfie-many-people.jpg" in group_text and "Image verdict" in group_text
    page_html = report.read_text()
    assert "selfie-many-people.jpg" in page_html and "Measured limits" in page_html
    assert page_html.count("data:image/jpeg;base64,") >= 4
    assert len(twenty_widths) == 20 and min(twenty_widths) >= READABLE_TILE_PX and twenty_cut == []
    assert "MPEG-4 Part 2" in note and video_captions_hidden == []
    assert "video-dfdc-0017-fake.webm" in video_text and "4 sampled frames" in video_text
    assert plot_alt and "undefined" not in plot_alt and "Timeline" in plot_alt
    assert frame_widths and min(frame_widths) >= READABLE_TILE_PX and person_width >= 150
    assert "not recorded" not in card_text and "Measured limits" in card_text
    assert model_height < 3000, f"the Model tab is {model_height} px tall"
