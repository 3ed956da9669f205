"""The `laanet-demo` entry point: safe defaults and explicit choices."""

from __future__ import annotations

import socket

import pytest
from laanet_demo.layout import CSS, launch_kwargs
from laanet_demo.limits import DemoLimits
from laanet_demo.serve import DEFAULT_HOST, DEFAULT_PORT, main, parse_args, port_problem


def test_defaults_bind_loopback_without_share() -> None:
    args = parse_args([])
    assert (args.host, args.port, args.share, args.weights) == ("127.0.0.1", 7860, False, "laanet-lite0-sbi-lfw")
    assert (DEFAULT_HOST, DEFAULT_PORT) == ("127.0.0.1", 7860)
    kw = launch_kwargs(args.host, args.port, args.share, DemoLimits())
    middleware = kw.pop("app_kwargs")["middleware"]
    assert kw == {"server_name": "127.0.0.1", "server_port": 7860, "share": False,
                  "max_file_size": DemoLimits().max_upload, "show_error": False, "css": CSS}
    assert [m.cls.__name__ for m in middleware] == ["RequestSizeLimit", "InlineDataUrls"]


def test_explicit_choices() -> None:
    args = parse_args(["--weights", "/tmp/x.pth", "--host", "0.0.0.0", "--port", "8000", "--share",
                       "--concurrency", "2", "--max-upload", "10mb"])
    assert (args.weights, args.host, args.port, args.share, args.concurrency, args.max_upload) == (
        "/tmp/x.pth", "0.0.0.0", 8000, True, 2, "10mb")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unknown_weights_stop_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--weights", "no-such-weights-name", "--port", str(_free_port())]) == 2
    err = capsys.readouterr().err
    assert "cannot load weights 'no-such-weights-name'" in err and len(err.strip().splitlines()) == 1


def test_a_port_in_use_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert "already in use" in (port_problem("127.0.0.1", port) or "")
        assert main(["--port", str(port), "--weights", "no-such-weights-name"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("laanet-demo: error: port") and "already in use" in err and "--port" in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert port_problem("127.0.0.1", _free_port()) is None
    assert "expected a port number" in (port_problem("127.0.0.1", 70000) or "")


def test_version_and_quiet(capsys: pytest.CaptureFixture[str]) -> None:
    assert parse_args(["--quiet"]).quiet and not parse_args([]).quiet
    with pytest.raises(SystemExit) as info:
        parse_args(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out.startswith("laanet-demo 0.")
