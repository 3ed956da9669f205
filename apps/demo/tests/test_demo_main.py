"""The `laanet-demo` entry point: safe defaults and explicit choices."""

from __future__ import annotations

import pytest
from laanet_demo.app import DEFAULT_HOST, DEFAULT_PORT, launch_kwargs, main, parse_args
from laanet_demo.limits import DemoLimits


def test_defaults_bind_loopback_without_share() -> None:
    args = parse_args([])
    assert (args.host, args.port, args.share, args.weights) == ("127.0.0.1", 7860, False, "laanet-lite0-sbi-lfw")
    assert (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 7860)
    kw = launch_kwargs(args.host, args.port, args.share, DemoLimits())
    assert kw == {"server_name": "127.0.0.1", "server_port": 7860, "share": False,
                  "max_file_size": DemoLimits().max_upload, "show_error": False}


def test_explicit_choices() -> None:
    args = parse_args(["--weights", "/tmp/x.pth", "--host", "0.0.0.0", "--port", "8000", "--share",
                       "--concurrency", "2", "--max-upload", "10mb"])
    assert (args.weights, args.host, args.port, args.share, args.concurrency, args.max_upload) == (
        "/tmp/x.pth", "0.0.0.0", 8000, True, 2, "10mb")


def test_unknown_weights_stop_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--weights", "no-such-weights-name"])
    assert "cannot load weights 'no-such-weights-name'" in str(info.value.code)
