"""One way to open an onnxruntime session (the RetinaFace finder and exported LAA-Net networks both use it)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any


def make_session(
    source: str | os.PathLike[str] | bytes,
    *,
    threads: int = 0,
    providers: Sequence[str] = ("CPUExecutionProvider",),
) -> Any:
    """An ``onnxruntime.InferenceSession`` over a model file or its bytes.

    ``threads`` sets the intra-op threads (0: onnxruntime's default); inter-op work stays on one thread, and
    only errors are logged. onnxruntime's own exception propagates when ``source`` is not a readable model.
    """
    import onnxruntime as ort

    if threads < 0:
        raise ValueError(f"threads must be >= 0, got {threads}")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    model = source if isinstance(source, bytes) else os.fspath(source)
    return ort.InferenceSession(model, sess_options=opts, providers=list(providers))
