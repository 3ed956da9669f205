"""A headless Chromium uploads a photo in the running demo, waits for the verdict and saves a screenshot."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def find_chromium() -> str | None:
    """Debian's chromium (never a downloaded browser)."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").is_file() else None


def screenshot_dir() -> Path:
    """Where the screenshot is kept for a person to look at: $LAANET_SCREENSHOTS or outputs/screenshots."""
    env = os.environ.get("LAANET_SCREENSHOTS")
    return Path(env) if env else Path(__file__).resolve().parents[3] / "outputs" / "screenshots"


def _browser(playwright, chromium: str):
    return playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)


@pytest.mark.browser
@pytest.mark.slow
def test_upload_image_in_browser_and_screenshot(
    app_url: str, group_photo: Path, bad_inputs: dict[str, Path], dfdc_video: Path
) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium found (install Debian's chromium: apt-get install -y chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    out = screenshot_dir()
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "demo-image-tab.png"
    with playwright.sync_playwright() as p:
        browser = _browser(p, chromium)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(app_url, wait_until="domcontentloaded", timeout=60_000)
            button = page.locator("#image-analyse")
            button.wait_for(timeout=60_000)
            assert button.is_disabled(), "Analyse must be disabled while nothing is uploaded"
            page.locator("#image-input input[type=file]").set_input_files(str(group_photo), timeout=60_000)
            page.locator("#image-input img").first.wait_for(state="visible", timeout=60_000)
            page.wait_for_function("!document.querySelector('#image-analyse').disabled", timeout=30_000)
            button.click()
            summary = page.locator("#image-summary")
            summary.get_by_text("Image verdict").wait_for(timeout=180_000)
            text = summary.inner_text()
            page.locator("#image-overlay img").first.wait_for(state="visible", timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(shot), full_page=True)
            # an error replaces the previous result: shown in the result panel, every other output cleared
            page.locator("#image-input button[aria-label='Remove Image']").first.click()
            page.wait_for_function("document.querySelector('#image-analyse').disabled", timeout=30_000)
            page.locator("#image-input input[type=file]").set_input_files(str(bad_inputs["no_face"]), timeout=60_000)
            page.wait_for_function("!document.querySelector('#image-analyse').disabled", timeout=30_000)
            button.click()
            summary.get_by_text("Not analysed").wait_for(timeout=180_000)
            error_text = summary.inner_text()
            overlay_left = page.locator("#image-overlay img").count()
            label_text = page.locator("#image-label").inner_text()
            page.wait_for_timeout(500)
            page.screenshot(path=str(out / "demo-image-error.png"), full_page=True)
            # a video browsers cannot play (MPEG-4 Part 2) gets a frame strip as preview
            page.get_by_role("tab", name="Video").click()
            page.locator("#video-input input[type=file]").set_input_files(str(dfdc_video), timeout=60_000)
            page.locator("#video-preview img").first.wait_for(state="visible", timeout=120_000)
            note = page.locator("#video-preview-note").inner_text()
            page.wait_for_timeout(1000)
            page.screenshot(path=str(out / "demo-video-preview.png"), full_page=True)
            page.get_by_role("tab", name="Model").click()
            page.locator("#model-card").get_by_text("sha256").wait_for(timeout=30_000)
            card_text = page.locator("#model-card").inner_text()
            page.screenshot(path=str(out / "demo-model-tab.png"), full_page=True)
        finally:
            browser.close()
    assert "faces scored" in text and ("real" in text or "fake" in text or "uncertain" in text)
    assert "Measured limits of this model" in text
    assert shot.is_file() and shot.stat().st_size > 20_000
    assert "No face was found" in error_text and "Image verdict" not in error_text
    assert overlay_left == 0 and "score" not in label_text
    assert "MPEG-4 Part 2" in note
    assert "not recorded" not in card_text
