"""Uploads as the handlers receive them: the forms Gradio hands a file over in, `data:` URLs decoded into
temporary files under a size limit, and the user's own file name and hash for the result and the report."""

from __future__ import annotations

import base64
import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from laanet_demo.limits import InputRejected


def payload_path(payload: Any, what: str) -> Path | str:
    """Local path of an uploaded file, whatever form Gradio hands it over in (path, FileData, dict), or the
    `data:` URL it came as (see `uploaded_file`, which decodes such a URL into a temporary file)."""
    if payload is None or payload == "":
        raise InputRejected(f"No {what} was given; please upload one first.")
    if isinstance(payload, str) and payload.startswith("data:"):
        return payload
    if isinstance(payload, (str, os.PathLike)):
        return Path(payload)
    if isinstance(payload, dict):
        if isinstance(payload.get("video"), dict):
            return payload_path(payload["video"], what)
        path, url = payload.get("path"), payload.get("url")
    else:
        path, url = getattr(payload, "path", None), getattr(payload, "url", None)
    if isinstance(path, str) and path.startswith("data:"):
        return path
    if path:
        return Path(path)
    if isinstance(url, str) and url.startswith("data:"):
        return url
    raise InputRejected(f"The {what} upload did not arrive complete; please upload it again.")


def upload_name(payload: Any) -> str | None:
    """The file name the user uploaded (for results and reports), when Gradio passed it on."""
    if isinstance(payload, dict):
        if isinstance(payload.get("video"), dict):
            return upload_name(payload["video"])
        name = payload.get("orig_name") or payload.get("path")
    elif isinstance(payload, str) and payload.startswith("data:"):
        name = None
    else:
        name = getattr(payload, "orig_name", None) or (payload if isinstance(payload, (str, os.PathLike)) else None)
    if not name or (isinstance(name, str) and name.startswith("data:")):
        return None
    return Path(name).name


def decoded_size_bound(data_url: str) -> int:
    """Upper bound of the bytes a base64 `data:` URL decodes to, without decoding it."""
    encoded = len(data_url) - (data_url.find(",") + 1)
    return encoded * 3 // 4


def decode_data_url(url: str, what: str, max_bytes: int, tmp_dir: Path | None = None) -> Path:
    """Decode a base64 `data:` URL into a new temporary file (the caller deletes it); refused before any
    decoding when it would exceed `max_bytes`."""
    if "," not in url or ";base64" not in url.split(",", 1)[0]:
        raise InputRejected(f"The {what} data could not be decoded (expected a base64 data: URL); "
                            "please upload it again.")
    size = decoded_size_bound(url)
    if size > max_bytes:
        raise InputRejected(
            f"The {what} is about {size / (1024 * 1024):.1f} MB; this demo accepts {what}s up to "
            f"{max_bytes / (1024 * 1024):.1f} MB."
        )
    try:
        data = base64.b64decode(url.split(",", 1)[1], validate=False)
    except ValueError as err:
        raise InputRejected(f"The {what} data could not be decoded; please upload it again.") from err
    fd, name = tempfile.mkstemp(prefix="laanet-", suffix=".upload", dir=tmp_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    return Path(name)


@contextlib.contextmanager
def uploaded_file(payload: Any, what: str, max_bytes: int, tmp_dir: Path | None = None) -> Iterator[Path]:
    """The local path of an upload; a `data:` URL is decoded into a temporary file that is deleted on exit,
    whether the work succeeded or failed."""
    with local_file(payload_path(payload, what), what, max_bytes, tmp_dir) as path:
        yield path


@contextlib.contextmanager
def local_file(where: Path | str, what: str, max_bytes: int, tmp_dir: Path | None = None) -> Iterator[Path]:
    """`where` (a `payload_path` result) as a local file: a path as it is, a `data:` URL decoded into a temporary
    file that is deleted on exit."""
    if isinstance(where, Path):
        yield where
        return
    path = decode_data_url(where, what, max_bytes, tmp_dir)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def upload_limit_bytes(max_upload: str | int) -> int:
    """Gradio's upload limit (e.g. "256mb") in bytes, read as Gradio reads it; ValueError when it is not one."""
    from gradio.utils import _parse_file_size

    try:
        size = _parse_file_size(max_upload)
    except (ValueError, TypeError, AttributeError):
        size = None
    if size is None or size < 1:
        raise ValueError(f"expected an upload limit such as '256mb', got {max_upload!r}")
    return size
