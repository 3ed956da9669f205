"""A weights card with the report's calibrated bands, their rule and the measured figures, written to a file the
user names (never into an installed package: a shipped card is replaced by hand, after review)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any


def updated_card(card: dict[str, Any], report: dict[str, Any]) -> dict[str, Any]:
    """``card`` with the ``thresholds``, ``thresholds_rule`` and ``metrics`` of a report (from
    :func:`laanet_research.report.run_protocol`); figures the report does not measure are kept."""
    out = copy.deepcopy(card)
    bands = report["thresholds"]
    out["thresholds"] = {"real_below": bands["real_below"], "fake_above": bands["fake_above"]}
    out["thresholds_rule"] = bands["rule"]
    out.setdefault("metrics", {}).update(copy.deepcopy(report["metrics"]))
    return out


def check_outside_packages(path: str | Path) -> Path:
    """``path`` unless it lies inside the installed ``laanet_model`` package (:class:`ValueError`)."""
    import laanet_model

    target = Path(path).resolve()
    package = Path(laanet_model.__file__).resolve().parent
    if target == package or package in target.parents:
        raise ValueError(f"{path} is inside the installed laanet_model package: write the card elsewhere, review "
                         "it, and replace the shipped card by hand")
    return target
