"""A limit on the size of every request the demo's web server accepts, checked before the body is read."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

#: room for the multipart framing and a checkpoint's JSON card beside the largest file of an upload
UPLOAD_OVERHEAD = 16 * 1024 * 1024


class _TooLarge(Exception):
    pass


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


class RequestSizeLimit:
    """ASGI middleware: a request whose body is larger than its route's limit gets 413 with a one-line message.

    The file-upload route (`.../upload`) may carry `max_upload` bytes plus framing; every other route (JSON, with
    any inline `data:` URL) at most `max_body`. A declared Content-Length over the limit is refused before a byte
    of the body is read; a body streamed without one is counted as it arrives and refused once it passes the
    limit, so no request is ever buffered past its limit.
    """

    def __init__(self, app: ASGIApp, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload + UPLOAD_OVERHEAD

    def limit_for(self, path: str) -> tuple[int, str]:
        """The byte limit of a route and how to say it."""
        if path.rstrip("/").endswith("/upload"):
            return self.max_upload, f"uploads are limited to {_mb(self.max_upload - UPLOAD_OVERHEAD)}"
        return self.max_body, (f"requests are limited to {_mb(self.max_body)}; send larger files as uploads, "
                               "not inline data: URLs")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, rule = self.limit_for(scope.get("path", ""))
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                size = int(declared)
            except ValueError:
                await _refuse(send, 400, "The request's Content-Length is not a number.")
                return
            if size > limit:
                await _refuse(send, 413, f"The request is {_mb(size)}; {rule}.")
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except _TooLarge:
            if not started:
                await _refuse(send, 413, f"The request is larger than allowed; {rule}.")


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message, "detail": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


MIME_SUFFIXES = {
    "image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/bmp": ".bmp", "image/tiff": ".tiff",
    "video/mp4": ".mp4", "video/webm": ".webm", "video/quicktime": ".mov", "video/x-msvideo": ".avi",
    "video/x-matroska": ".mkv", "application/octet-stream": ".bin",
}


class InlineDataUrls:
    """ASGI middleware: files sent inline as base64 `data:` URLs in an API call (`.../call/<name>` or
    `.../queue/join`) are decoded into files before Gradio sees the request, as if they had been uploaded.

    Gradio's own input checks refuse a `data:` URL where a file is expected (with an empty error); this turns
    each one into a file in `outputs` (bounded in number, removed when the server stops). Bodies are already
    bounded by `RequestSizeLimit`; anything that is not JSON with a `data:` URL passes through unchanged.
    """

    def __init__(self, app: ASGIApp, outputs: Any) -> None:
        self.app = app
        self.outputs = outputs

    @staticmethod
    def applies(scope: Scope) -> bool:
        path = scope.get("path", "")
        return scope["type"] == "http" and scope.get("method") == "POST" and (
            "/call/" in path or path.rstrip("/").endswith("/queue/join"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.applies(scope):
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away before the body was complete
                await self.app(scope, _replay(b"".join(chunks), receive, message), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if b'"data:' in body:
            import anyio

            body = await anyio.to_thread.run_sync(self._decode_inline, body)
            headers = [(k, v) for k, v in scope.get("headers") or [] if k != b"content-length"]
            scope = {**scope, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await self.app(scope, _replay(body, receive), send)

    def _decode_inline(self, body: bytes) -> bytes:
        try:
            payload = json.loads(body)
        except ValueError:
            return body
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), list):
            return body
        payload["data"] = [self._as_file(item) for item in payload["data"]]
        return json.dumps(payload).encode()

    def _as_file(self, item: Any) -> Any:
        name = None
        if isinstance(item, dict):
            url = next((v for v in (item.get("url"), item.get("path")) if isinstance(v, str) and v.startswith("data:")),
                       None)
            name = item.get("orig_name")
        else:
            url = item if isinstance(item, str) and item.startswith("data:") else None
        if url is None or "," not in url or ";base64" not in url.split(",", 1)[0]:
            return item
        import base64
        import binascii

        mime = url[5:].split(";", 1)[0].lower()
        try:
            data = base64.b64decode(url.split(",", 1)[1], validate=False)
        except (ValueError, binascii.Error):
            return item
        suffix = MIME_SUFFIXES.get(mime, ".bin")
        path = self.outputs.write_bytes(data, "inline", suffix)
        return {"path": path, "url": None, "orig_name": name or f"inline{suffix}", "size": len(data),
                "mime_type": mime or None, "meta": {"_type": "gradio.FileData"}}


def _replay(body: bytes, original: Receive, pending: Message | None = None) -> Receive:
    """A `receive` that hands over `body` as one message, then `pending` (a message already taken from the
    client, e.g. its disconnect), then whatever the client sends next."""
    sent = False

    async def receive() -> Message:
        nonlocal sent, pending
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if pending is not None:
            message, pending = pending, None
            return message
        return await original()

    return receive
