"""`laanet-demo`: check the options and the port, then load the model and serve the Gradio demo.

Arguments are parsed before gradio and the model code are imported, so `--help` and `--version` answer at once,
and a port already in use is reported in one line before any model is loaded."""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from importlib.metadata import version
from typing import Any

from laanet_demo.limits import DemoLimits

DEFAULT_WEIGHTS = "laanet-lite0-sbi-lfw"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
EXIT_CODES = "Exit status: 0 stopped normally, 2 bad option, weights that cannot be loaded or a port in use."


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="laanet-demo",
        description="The Gradio demo: every face of a photo or video, its fake probability and where the model "
                    "sees blending. " + EXIT_CODES)
    p.add_argument("--version", action="version", version=f"%(prog)s {version('laanet-demo')}")
    p.add_argument("--weights", default=DEFAULT_WEIGHTS,
                   help="registered weight name or checkpoint path (default: %(default)s)")
    p.add_argument("--host", default=DEFAULT_HOST,
                   help="address to bind (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default: %(default)s)")
    p.add_argument("--share", action="store_true", help="also open a public Gradio share link (off by default)")
    p.add_argument("--concurrency", type=int, default=DemoLimits.concurrency_limit,
                   help="model calls running at once (default: %(default)s)")
    p.add_argument("--max-upload", default=DemoLimits.max_upload, help="largest upload (default: %(default)s)")
    p.add_argument("--quiet", action="store_true", help="log warnings and errors only")
    return p.parse_args(argv)


def port_problem(host: str, port: int) -> str | None:
    """Why the demo could not listen on ``host:port`` (as the web server binds: with SO_REUSEADDR), or None."""
    if not 1 <= port <= 65535:
        return f"--port {port}: expected a port number from 1 to 65535"
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as err:
        return f"--host {host}: not an address of this machine ({err.strerror})"
    family, _, _, _, address = infos[0]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return (f"port {port} on {host} is already in use (is another demo running?); "
                        "stop it or choose another port with --port")
            return f"cannot listen on {host}:{port} ({err.strerror})"
    return None


def option_problem(args: argparse.Namespace) -> str | None:
    """Why the limits given on the command line cannot be used, or None."""
    from laanet_demo.uploads import upload_limit_bytes

    if args.concurrency < 1:
        return f"--concurrency {args.concurrency}: expected a whole number of at least 1"
    try:
        upload_limit_bytes(args.max_upload)
    except ValueError:
        return f"--max-upload {args.max_upload!r}: expected a size such as 256mb, 1gb or 500kb"
    return None


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """While inside, SIGTERM stops the server as Ctrl-C does (so that uploads and outputs are removed)."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: nothing to install
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    """Console script `laanet-demo`."""
    args = parse_args(argv)
    problem = option_problem(args) or port_problem(args.host, args.port)
    if problem is not None:
        print(f"laanet-demo: error: {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from laanet_model.detector import Detector

    from laanet_demo.layout import build_demo, launch_kwargs
    from laanet_demo.outputs import OutputFiles

    limits = DemoLimits(concurrency_limit=args.concurrency, max_upload=args.max_upload)
    try:
        detector = Detector.from_weights(args.weights)
    except Exception as err:  # noqa: BLE001 - a start-up failure is reported in one line
        print(f"laanet-demo: error: cannot load weights {args.weights!r}: {err}", file=sys.stderr)
        return 2
    outputs = OutputFiles(max_files=limits.max_outputs)
    demo = build_demo(detector, limits=limits, outputs=outputs)
    try:
        with sigterm_as_interrupt():
            demo.launch(**launch_kwargs(args.host, args.port, args.share, limits, outputs))
    except OSError as err:  # the port was taken between the check and the launch
        print(f"laanet-demo: error: cannot listen on {args.host}:{args.port} ({err})", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # a signal that came before Gradio's own wait for Ctrl-C
        demo.close(verbose=False)
    finally:
        remove_served_files(demo)
        outputs.close()
    return 0


def remove_served_files(demo: Any) -> None:
    """Delete the files this server took in and served (users' uploads and Gradio's copies of results), as
    Gradio's own shutdown does when it has time to finish; the page's own examples stay."""
    from gradio.route_utils import delete_files_created_by_app

    try:
        delete_files_created_by_app(demo, age=None)
    except OSError as err:  # a file that cannot be removed must not turn a clean stop into a traceback
        logging.getLogger("laanet_demo").warning("could not remove every served file: %s", err)


if __name__ == "__main__":
    raise SystemExit(main())
