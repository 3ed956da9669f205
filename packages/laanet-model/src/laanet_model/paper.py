"""Published LAA-Net results (official README, video-level, in %, trained on FF++ raw), declared as data.

The one place the paper's numbers are stored: the weights registry reports them for the official
checkpoints and the benchmark tables print them beside measured rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from laanet_synth.media import OFFICIAL_FRAMES_PER_VIDEO

__all__ = ["PaperRow", "PAPER_COLUMNS", "PAPER_RESULTS", "OFFICIAL_FRAMES_PER_VIDEO"]


@dataclass(frozen=True)
class PaperRow:
    """One published row: ``values[column][metric]`` in percent at ``level``."""

    label: str
    level: str
    values: dict[str, dict[str, float]]
    source: str = "LAA-Net README / CVPR 2024 (trained on FF++ raw); DFDC = DFDC-Preview"


PAPER_COLUMNS = ("FF++", "CDF", "DFW", "DFD", "DFDC")

PAPER_RESULTS: dict[str, PaperRow] = {
    "bi": PaperRow("LAA-Net w/ BI (paper)", "video", {
        "FF++": {"auc": 99.95}, "CDF": {"auc": 86.28, "ap": 91.93}, "DFW": {"auc": 57.13, "ap": 56.89},
        "DFD": {"auc": 99.51, "ap": 99.80}, "DFDC": {"auc": 69.69, "ap": 93.67},
    }),
    "sbi": PaperRow("LAA-Net w/ SBI (paper)", "video", {
        "FF++": {"auc": 99.96}, "CDF": {"auc": 95.40, "ap": 97.64}, "DFW": {"auc": 80.03, "ap": 81.08},
        "DFD": {"auc": 98.43, "ap": 99.40}, "DFDC": {"auc": 86.94, "ap": 97.70},
    }),
}
