"""Every command answers --help and --version before it imports torch, gradio or OpenCV, through the console
scripts as installed (so the entry points themselves are checked)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

import pytest

COMMANDS = ["laanet", "laanet-demo", "laanet-bench", "laanet-synth", "laanet-train"]
SUBCOMMAND_HELP = {"laanet": ["predict", "--help"], "laanet-bench": ["evaluate", "--help"],
                   "laanet-synth": ["preprocess", "--help"]}
HEAVY = ("torch", "gradio", "cv2")

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
