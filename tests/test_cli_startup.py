"""Every command answers --help and --version before it imports numpy, torch, gradio or OpenCV, through the
console scripts as installed (so the entry points themselves are checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

COMMANDS = ["laanet", "laanet-demo", "laanet-bench", "laanet-synth", "laanet-train", "laanet-research"]
SUBCOMMAND_HELP = {"laanet": ["predict", "--help"], "laanet-bench": ["evaluate", "--help"],
                   "laanet-synth": ["preprocess", "--help"], "laanet-research": ["report", "--help"]}
#: every subcommand the READMEs name, each asked for its --help below
SUBCOMMANDS = {"laanet": ["predict", "export-onnx"], "laanet-bench": ["datasets", "evaluate", "table", "robustness"],
               "laanet-synth": ["preprocess", "contact-sheet"],
               "laanet-research": ["report", "select", "face-score", "ship-card", "swaps", "soup"]}
#: subcommands that take a subcommand of their own, and theirs
NESTED = {("laanet-research", "soup"): ["make", "greedy", "base-card", "export"]}
HEAVY = ("numpy", "torch", "gradio", "cv2")

PROBE = """
import json, sys
from importlib import import_module
module, func = sys.argv[1].split(":")
try:
    code = getattr(import_module(module), func)(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
heavy = [m for m in HEAVY if m in sys.modules]
print(json.dumps({"code": code, "heavy": heavy}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


def probe(command: str, args: list[str]) -> tuple[dict, str]:
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == command]
    done = subprocess.run([sys.executable, "-c", PROBE, ep.value, *args], capture_output=True, text=True,
                          timeout=300)
    return json.loads(done.stderr.strip().splitlines()[-1]), done.stdout


@pytest.mark.parametrize("command", COMMANDS)
def test_help_and_version_parse_before_heavy_imports(command):
    for args in (["--help"], ["--version"], SUBCOMMAND_HELP.get(command, ["--help"])):
        result, out = probe(command, args)
        assert result["code"] in (0, None), (command, args, result)
        assert result["heavy"] == [], f"{command} {' '.join(args)} imported {result['heavy']}"
        assert out.strip(), (command, args)
    _, out = probe(command, ["--version"])
    assert out.startswith(f"{command} 0.")


def test_the_subcommand_lists_are_the_parsers_own() -> None:
    """A new subcommand cannot slip past the check below: the lists above are what the parsers hold."""
    import argparse

    from laanet_bench.cli import build_parser as bench
    from laanet_demo.cli import build_parser as laanet
    from laanet_research.cli import build_parser as research
    from laanet_synth.cli import build_parser as synth

    def choices(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        return sub.choices

    for command, build in (("laanet", laanet), ("laanet-bench", bench), ("laanet-synth", synth),
                           ("laanet-research", research)):
        subs = choices(build())
        assert sorted(subs) == sorted(SUBCOMMANDS[command]), command
        nested = {name: sorted(choices(p)) for name, p in subs.items()
                  if any(isinstance(a, argparse._SubParsersAction) for a in p._actions)}
        assert nested == {name: sorted(v) for (c, name), v in NESTED.items() if c == command}, command


@pytest.mark.parametrize(("command", "sub"), [(c, s) for c, subs in SUBCOMMANDS.items() for s in subs])
def test_every_subcommand_help_parses_before_heavy_imports(command: str, sub: str) -> None:
    result, out = probe(command, [sub, "--help"])
    assert result["code"] in (0, None), (command, sub, result)
    assert result["heavy"] == [], f"{command} {sub} --help imported {result['heavy']}"
    assert "usage:" in out and sub in out


@pytest.mark.parametrize(("command", "sub", "inner"), [(c, s, i) for (c, s), inner in NESTED.items() for i in inner])
def test_every_nested_subcommand_help_parses_before_heavy_imports(command: str, sub: str, inner: str) -> None:
    result, out = probe(command, [sub, inner, "--help"])
    assert result == {"code": 0, "heavy": []}, (command, sub, inner, result)
    assert "usage:" in out and f"{sub} {inner}" in out


@pytest.mark.parametrize(("command", "sub"), list(NESTED))
def test_a_missing_nested_subcommand_is_a_usage_error(command: str, sub: str) -> None:
    result, _ = probe(command, [sub])
    assert result == {"code": 2, "heavy": []}, (command, sub, result)


def test_help_imports_no_torch_by_importtime() -> None:
    """The same through the interpreter's own import log (``-X importtime``), for the slowest command."""
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "laanet-train"]
    module, func = ep.value.split(":")
    code = f"import {module} as m; m.{func}(['--help'])"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          timeout=300)
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "laanet_train.cli" in imported  # the log is read right
    assert not imported & {"torch", "cv2", "gradio"}, sorted(imported & {"torch", "cv2", "gradio"})
