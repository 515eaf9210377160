"""Gzip request bodies (`Content-Encoding: gzip`), decompressed before Flask reads them.

A WSGI middleware, because Flask reads the body lazily from `wsgi.input`. Both sizes
are bounded: the compressed body by MAX_CONTENT_LENGTH, the decompressed one by
MAX_DECOMPRESSED_LENGTH (a small bomb cannot fill the memory). A refusal is left in
the environ for the app to answer in the caller's language (see `server.app`).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Callable, Iterable
from typing import Any

ERROR = "towline.body_error"
GUNZIPPED = "towline.gunzipped"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class GzipRequests:
    def __init__(self, app: WSGIApp, limits: Callable[[], tuple[int, int]]) -> None:
        self.app = app
        self.limits = limits  # (compressed, decompressed), read at each request

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        encoding = environ.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if encoding in ("", "identity"):
            return self.app(environ, start_response)
        environ.pop("HTTP_CONTENT_ENCODING", None)
        if encoding != "gzip":
            self._refuse(environ, "unsupported_encoding")
        else:
            self._gunzip(environ)
        return self.app(environ, start_response)

    @staticmethod
    def _refuse(environ: dict[str, Any], reason: str) -> None:
        environ[ERROR] = reason
        environ["wsgi.input"] = io.BytesIO(b"")
        environ["CONTENT_LENGTH"] = "0"

    def _gunzip(self, environ: dict[str, Any]) -> None:
        compressed_limit, decompressed_limit = self.limits()
        try:
            length = int(environ.get("CONTENT_LENGTH") or -1)
        except ValueError:
            length = -1
        if length < 0:
            return self._refuse(environ, "length_required")
        if length > compressed_limit:
            return self._refuse(environ, "too_large")
        raw = environ["wsgi.input"].read(length)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip header and trailer
        try:
            data = inflater.decompress(raw, decompressed_limit + 1)
        except zlib.error:
            return self._refuse(environ, "bad_gzip")
        if len(data) > decompressed_limit or inflater.unconsumed_tail:
            return self._refuse(environ, "too_large_decompressed")
        if not inflater.eof or inflater.unused_data:
            return self._refuse(environ, "bad_gzip")
        environ["wsgi.input"] = io.BytesIO(data)
        environ["CONTENT_LENGTH"] = str(len(data))
        environ[GUNZIPPED] = True
        return None
