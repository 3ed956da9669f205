"""``laanet-research``: the searches behind the built-in weights. Arguments are parsed before numpy, torch or
OpenCV are imported, so ``--help`` and ``--version`` answer at once; the work is in
:mod:`laanet_research.commands`."""

from __future__ import annotations

import argparse
from importlib.metadata import version


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="laanet-research",
        description="Compare checkpoints on the selection data, average fine-tunes (model soups), choose the "
                    "face-score floor, and calibrate and measure weights on the shared real photos. Exit status: "
                    "0 done, 2 bad option, shared data folder or soup ingredients.",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {version('laanet-research')}")
    sub = p.add_subparsers(dest="command", required=True)
    rep = sub.add_parser("report", help="calibrate the bands on the selection photos and measure every figure "
                                        "a card reports")
    rep.add_argument("weights", help="registered weights name or .safetensors file (with its card)")
    rep.add_argument("--write-card", default=None, metavar="OUT.json",
                     help="write the weights' card with the calibrated bands and the figures to this file "
                          "(never into an installed package)")
    sel = sub.add_parser("select", help="selection scores of every epoch_<k>.pt of a run, and the rule's choice")
    sel.add_argument("run_dir")
    floor = sub.add_parser("face-score", help="the lowest face-finder confidence to judge, by the stated rule")
    floor.add_argument("--face-detector", default="retinaface", help="face finder name (default: retinaface)")
    floor.add_argument("--min-face-size", type=int, default=None,
                       help="judged face width in pixels (default: the one training runs use)")
    ship = sub.add_parser("ship-card", help="split a full card into the card that ships and the training record")
    ship.add_argument("card", help="the full JSON card (as export and report --write-card write it)")
    ship.add_argument("--out", required=True, help="the shipped card to write (never into an installed package)")
    ship.add_argument("--record", required=True, help="the training record to write")
    sw = sub.add_parser("swaps", help="frame AUC, AP and band shares on a split of the real-swap list "
                                      "(deepfakes/index.csv), overall and per method")
    sw.add_argument("weights", help="registered weights name, .safetensors file (with its card), or a run's "
                                    "RUN_DIR/epoch_<k>.pt (scored with its run's recipe and the --bands-of "
                                    "weights' bands)")
    sw.add_argument("--split", default="select", choices=("train", "select", "report"),
                    help="the list's split (default: select; report only for a card's figures)")
    sw.add_argument("--bands-of", default="laanet-lite0-sbi-lfw",
                    help="registered weights whose bands a run's epoch is scored with (default: %(default)s)")
    for q in (rep, sel, floor, sw):
        q.add_argument("--shared", required=True, help="the shared data folder (holding faces/, lfw/, dfdc-crops/)")
        q.add_argument("--out", default=None, help="write the result here as JSON")
        q.add_argument("--cache", default=None, help="folder for the face cache")

    soup = sub.add_parser("soup", help="weight averages of fine-tunes that share a start (model soups)")
    soups = soup.add_subparsers(dest="soup_command", required=True)
    mk = soups.add_parser("make", help="write soups as a run-like folder (score it with `select`)")
    mk.add_argument("out_dir")
    mk.add_argument("--config-from", required=True, help="the run whose config.yaml (recipe) the soups are scored with")
    mk.add_argument("--soup", action="append", required=True,
                    help="comma-separated ingredients, each LABEL=PATH or PATH of a .pt state dict (repeat per soup)")
    gr = soups.add_parser("greedy", help="the greedy soup of the candidates, by the selection rule of `select`")
    gr.add_argument("out_dir")
    gr.add_argument("--config-from", required=True, help="the run whose config.yaml (recipe) the soups are scored with")
    gr.add_argument("--candidate", action="append", required=True,
                    help="an ingredient LABEL=PATH (or PATH) of a .pt state dict (repeat per candidate)")
    gr.add_argument("--shared", required=True, help="the shared data folder (holding faces/, lfw/)")
    gr.add_argument("--cache", default=None, help="folder for the face cache")
    for q in (sel, gr):
        q.add_argument("--swap-split", default="select", choices=("select", "none"),
                       help="add the frame AUC of this split of deepfakes/index.csv to the rule (default: select; "
                            "none: the three-measure rule of the searches before real swaps joined it)")
        q.add_argument("--tail", default=True, action=argparse.BooleanOptionalAction,
                       help="with a swap split, add the share of its swaps above the fake band a card calibrated "
                            "on the selection data would state (default; --no-tail: the four-measure rule of the "
                            "searches up to the stage 40 soup)")
    bc = soups.add_parser("base-card", help="the card a soup's export builds on, from a spec (JSON)")
    bc.add_argument("spec", help="JSON: card, record (the shipped card and training record the fine-tunes started "
                                 "from), chain_stage, data, fine_tunes: [{stage, run, initialised_from, scores, why}]")
    bc.add_argument("out", help="where the base card (JSON) is written")
    ex = soups.add_parser("export", help="write one soup as float16 safetensors with its card")
    ex.add_argument("soup_dir")
    ex.add_argument("out")
    ex.add_argument("--checkpoint", required=True, help="the soup to export (epoch_<k>.pt)")
    ex.add_argument("--base-card", required=True, help="the JSON card of the weights the fine-tunes started from")
    ex.add_argument("--selection", required=True, help="the rule that chose --checkpoint, for the card")
    ex.add_argument("--scores", default=None,
                    help="`select --out` JSON of the soups, or a greedy folder's select.json, for the card")
    ex.add_argument("--fine-tune-stage", type=int, action="append", default=[],
                    help="a stage of the base card's training.not_kept that is an ingredient (repeat)")
    ex.add_argument("--description", default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    """``laanet-research COMMAND ...``: 0 when done; usage errors, a shared folder that lacks what the command
    reads and soups that cannot be made exit with 2 and one line on standard error."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from .commands import CommandError, run

    try:
        return run(args)
    except CommandError as exc:
        parser.error(str(exc))
    return 2  # pragma: no cover (parser.error exits)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
