"""``laanet-train --config CONFIG [KEY=VALUE ...]``: train (or resume) one recipe."""

from __future__ import annotations

import argparse
import json
import sys
from importlib.metadata import version

from .config import ConfigError, load_config


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="laanet-train",
        description="Train LAA-Net from a YAML recipe. A run resumes from its output folder's state.pt. "
                    "Exit status: 0 trained (or resumed to the end), 2 invalid recipe, data or state to resume.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {version('laanet-train')}")
    p.add_argument("--config", "-c", required=True, help="YAML recipe (e.g. packages/laanet-train/configs/*.yaml)")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="dotted overrides, e.g. train.epochs=2 data.input_size=128 train.output_dir=runs/x")
    p.add_argument("--print-config", action="store_true", help="print the resolved recipe and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bars (the same as train.progress=false)")
    return p


def main(argv: list[str] | None = None) -> int:
    """``laanet-train``: 0 when the run finished (or stopped as asked), 2 for a bad recipe, data or state."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        cfg = load_config(args.config, [*args.overrides, *(["train.progress=false"] if args.quiet else [])])
    except ConfigError as exc:
        print(f"laanet-train: invalid config: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        from .config import config_to_dict

        print(json.dumps(config_to_dict(cfg), indent=2))
        return 0
    from .data import DataError
    from .engine import Trainer
    from .state import ResumeError

    try:
        result = Trainer(cfg).fit()
    except (DataError, ResumeError) as exc:
        print(f"laanet-train: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"laanet-train: interrupted; the state of the last finished epoch in {cfg.output_dir} is kept: "
              "rerun the same command to resume", file=sys.stderr)
        return 130
    summary = {
        "output_dir": str(result.output_dir), "epochs_done": result.epochs_done,
        "global_step": result.global_step, "best_epoch": result.best_epoch, "best_val_auc": result.best_auc,
        "stopped_early": result.stopped_early,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
