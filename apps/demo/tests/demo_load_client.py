"""Send N concurrent predict_image requests to a running demo (run as a separate process by the load test).

Usage: python demo_load_client.py URL IMAGE N
Prints one JSON object: {"ok": count, "errors": [messages], "seconds": wall time}.
"""

from __future__ import annotations

import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from gradio_client import Client, handle_file


def main(argv: list[str]) -> int:
    url, image, n = argv[0], argv[1], int(argv[2])
    host = urlparse(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(json.dumps({"ok": 0, "errors": [f"refusing non-loopback host {host}"], "seconds": 0}))
        return 2
    client = Client(url, verbose=False)
    t0 = time.perf_counter()

    def one(_: int) -> str | None:
        try:
            out = client.predict(handle_file(image), api_name="/predict_image")
            return None if out[5]["n_faces"] >= 1 else f"no face reported: {out[5]}"
        except Exception as err:  # noqa: BLE001 - every failure is counted and reported
            return f"{type(err).__name__}: {err}"

    with ThreadPoolExecutor(max_workers=n) as pool:
        results = list(pool.map(one, range(n)))
    errors = [r for r in results if r is not None]
    print(json.dumps({"ok": n - len(errors), "errors": errors, "seconds": time.perf_counter() - t0}))
    return 0 if not errors else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
