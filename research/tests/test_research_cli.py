"""``laanet-research`` answers --help and --version through its installed console script before numpy, torch
or OpenCV are imported, and names a missing subcommand as a usage error."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import entry_points

HEAVY = ("numpy", "torch", "cv2")
PROBE = """
import json, sys
from importlib import import_module
module, func = sys.argv[1].split(":")
try:
    code = getattr(import_module(module), func)(sys.argv[2:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "heavy": [m for m in HEAVY if m in sys.modules]}), file=sys.stderr)
""".replace("HEAVY", repr(HEAVY))


def probe(args: list[str]) -> tuple[dict, str]:
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "laanet-research"]
    done = subprocess.run([sys.executable, "-c", PROBE, ep.value, *args], capture_output=True, text=True,
                          timeout=300)
    return json.loads(done.stderr.strip().splitlines()[-1]), done.stdout


def test_help_and_version_answer_before_heavy_imports() -> None:
    for args in (["--help"], ["--version"], ["report", "--help"], ["soup", "greedy", "--help"]):
        result, out = probe(args)
        assert result == {"code": 0, "heavy": []}, (args, result)
        assert out.strip(), args
    _, out = probe(["--version"])
    assert out.startswith("laanet-research 0.")


def test_a_missing_subcommand_is_a_usage_error() -> None:
    result, _ = probe(["soup"])
    assert result["code"] == 2 and result["heavy"] == []
