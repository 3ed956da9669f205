"""The text of :mod:`laanet_model.builtin_card`, rendered from the built-in weights' card.

The registry entry of the built-in weights is complete without reading a file, so what the card measures
(the file's hash, the calibrated bands and the reported figures) is written out as Python. It is written by
:func:`write_builtin_card_module`, which ``python -m laanet_train.realval report laanet-lite0-sbi-lfw
--write-card`` calls after recalibrating, never by hand; a test checks that the module is the rendering of the
shipped card.
"""

from __future__ import annotations

import os
import pprint
from pathlib import Path
from typing import Any

HEADER = '''"""What the built-in weights' card (``assets/<name>.json``) measures: the file's sha256, the verdict bands
calibrated on real photos and the reported figures, each naming its data in its ``protocol``.

Generated from the card by :func:`laanet_model.builtin_card_source.write_builtin_card_module`; do not edit.
"""

from __future__ import annotations

from typing import Any

'''


def builtin_card_source(card: dict[str, Any]) -> str:
    """The module text for ``card`` (its ``sha256``, ``thresholds`` and ``metrics``)."""
    th = card["thresholds"]
    return (
        HEADER
        + f"BUILTIN_SHA256 = {card['sha256']!r}\n"
        + f"BUILTIN_REAL_BELOW = {float(th['real_below'])!r}\n"
        + f"BUILTIN_FAKE_ABOVE = {float(th['fake_above'])!r}\n"
        + "BUILTIN_METRICS: dict[str, Any] = "
        + pprint.pformat(card["metrics"], width=110)
        + "\n"
    )


def builtin_card_module_path() -> Path:
    """Where :mod:`laanet_model.builtin_card` lives."""
    return Path(__file__).with_name("builtin_card.py")


def write_builtin_card_module(card: dict[str, Any], path: str | os.PathLike[str] | None = None) -> Path:
    """Write :func:`builtin_card_source` of ``card`` atomically (to the package's module unless ``path``)."""
    from laanet_synth.atomic import write_text

    target = Path(path) if path is not None else builtin_card_module_path()
    write_text(target, builtin_card_source(card))
    return target
