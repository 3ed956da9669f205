"""The one onnxruntime session factory: it opens the RetinaFace bytes, honours its thread setting and lets a
broken model fail loudly."""

from __future__ import annotations

import pytest
from laanet_synth.onnx_session import make_session
from laanet_synth.retinaface import load_network_bytes


def test_opens_model_bytes_on_the_cpu() -> None:
    session = make_session(load_network_bytes(), threads=1)
    assert session.get_providers() == ["CPUExecutionProvider"]
    assert len(session.get_inputs()) == 1 and len(session.get_outputs()) == 3


def test_rejects_broken_models_and_negative_threads() -> None:
    with pytest.raises(ValueError, match="threads"):
        make_session(load_network_bytes(), threads=-1)
    with pytest.raises(Exception, match=r"(?i)protobuf|parse|load|invalid"):
        make_session(b"not an onnx model")
