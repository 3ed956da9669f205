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


@pytest.mark.browser
@pytest.mark.slow
def test_upload_image_in_browser_and_screenshot(app_url: str, group_photo: Path) -> None:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip("no chromium found (install Debian's chromium: apt-get install -y chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    out = screenshot_dir()
    out.mkdir(parents=True, exist_ok=True)
    shot = out / "demo-image-tab.png"
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1400})
            page.goto(app_url, wait_until="domcontentloaded", timeout=60_000)
            page.locator("#image-input input[type=file]").set_input_files(str(group_photo), timeout=60_000)
            page.locator("#image-input img").first.wait_for(state="visible", timeout=60_000)
            page.locator("#image-analyse").click()
            summary = page.locator("#image-summary")
            summary.get_by_text("Image verdict").wait_for(timeout=180_000)
            text = summary.inner_text()
            page.locator("img[alt]").last.wait_for(state="visible", timeout=60_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert "faces scored" in text and ("real" in text or "fake" in text or "uncertain" in text)
    assert shot.is_file() and shot.stat().st_size > 20_000
