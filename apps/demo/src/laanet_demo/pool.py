"""The detectors a running demo serves: the built-in one, and a few loaded from uploaded checkpoints."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from laanet_demo.checkpoint_upload import pick_checkpoint_files
from laanet_demo.limits import InputRejected


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
