"""The files the demo writes for a result (overlays, face tiles, reports): one folder of this server's own,
at most `max_files` kept between clean-ups, removed when the server stops."""

from __future__ import annotations

import shutil
import tempfile
import threading
import uuid
from collections import deque
from pathlib import Path
from typing import Any

from laanet_synth.imageio import write_image_atomic

#: result files kept at once (a request writes 3 to 40); the oldest go first
DEFAULT_MAX_FILES = 400


class OutputFiles:
    """Writes result files with unique names in a folder of this server's own inside Gradio's upload folder.

    Gradio serves files from there as they are. Unique names matter: two requests with identical results
    would otherwise rewrite the same file while it is being downloaded. At most `max_files` are kept: writing
    one more deletes the oldest, so outputs never pile up between Gradio's hourly clean-ups. `close()` removes
    the folder (the server calls it on Ctrl-C and on SIGTERM).
    """

    def __init__(self, folder: Path | None = None, quality: int = 90, max_files: int = DEFAULT_MAX_FILES) -> None:
        if max_files < 1:
            raise ValueError(f"max_files must be at least 1, got {max_files}")
        self._parent = folder
        self._quality = quality
        self._max_files = max_files
        self._folder: Path | None = None
        self._written: deque[Path] = deque()
        self._lock = threading.Lock()

    def folder(self) -> Path:
        """This server's output folder (made on first use)."""
        with self._lock:
            if self._folder is None or not self._folder.is_dir():
                if self._parent is None:
                    from gradio.utils import get_upload_folder

                    parent = Path(get_upload_folder())
                else:
                    parent = self._parent
                parent.mkdir(parents=True, exist_ok=True)
                self._folder = Path(tempfile.mkdtemp(prefix="laanet-demo-", dir=parent))
            return self._folder

    def _target(self, stem: str, suffix: str) -> Path:
        return self.folder() / f"{stem}-{uuid.uuid4().hex}{suffix}"

    def _track(self, path: Path) -> str:
        with self._lock:
            self._written.append(path)
            while len(self._written) > self._max_files:
                self._written.popleft().unlink(missing_ok=True)
        return str(path)

    def write(self, image: Any, stem: str) -> str:
        """Save an RGB uint8 array as JPEG atomically; returns the file path."""
        target = self._target(stem, ".jpg")
        write_image_atomic(target, image, quality=self._quality)
        return self._track(target)

    def write_text(self, text: str, stem: str, suffix: str) -> str:
        """Save a text file (a report) atomically; returns the file path."""
        from laanet_synth.atomic import write_text

        target = self._target(stem, suffix)
        write_text(target, text)
        return self._track(target)

    def write_bytes(self, data: bytes, stem: str, suffix: str) -> str:
        """Save bytes (a file sent inline) atomically; returns the file path."""
        from laanet_synth.atomic import write_bytes

        target = self._target(stem, suffix)
        write_bytes(target, data)
        return self._track(target)

    def keep(self, path: Path, stem: str, suffix: str) -> str:
        """Take over a file that would be deleted (e.g. a decoded `data:` URL upload): it is moved, not read
        into memory, into the served folder; the caller's clean-up then finds nothing to delete."""
        target = self._target(stem, suffix)
        shutil.move(str(path), str(target))
        return self._track(target)

    def count(self) -> int:
        """Result files kept now."""
        with self._lock:
            return sum(1 for p in self._written if p.exists())

    def close(self) -> None:
        """Remove every file written and the folder itself."""
        with self._lock:
            if self._folder is not None:
                shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
            self._written.clear()
