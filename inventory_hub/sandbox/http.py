"""The tiny request/response pair the sandbox's three product APIs speak (no web framework).

`wsgi.SandboxApp` turns a WSGI environ into a `Request` for the system its path prefix names
(/shopify, /shiphero, /erpnext) and the `Response` back into WSGI.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Protocol
from urllib.parse import parse_qs


@dataclasses.dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str  # below the system's prefix, e.g. "/admin/api/2025-04/graphql.json"
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased
    body: bytes

    @classmethod
    def build(
        cls, method: str, path: str, *, query_string: str = "", headers: dict[str, str] | None = None, body: bytes = b""
    ) -> Request:
        return cls(
            method=method.upper(),
            path=path,
            query=parse_qs(query_string, keep_blank_values=True),
            headers={k.lower(): v for k, v in (headers or {}).items()},
            body=body,
        )

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@dataclasses.dataclass(slots=True)
class Response:
    status: int
    body: bytes
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)

    @classmethod
    def json(cls, payload: Any, status: int = 200, headers: list[tuple[str, str]] | None = None) -> Response:
        return cls(
            status=status,
            body=json.dumps(payload, separators=(",", ":")).encode(),
            headers=[("Content-Type", "application/json; charset=utf-8"), *(headers or [])],
        )


class ProductApi(Protocol):
    """One simulated product's HTTP API over the shared World."""

    def handle(self, request: Request) -> Response: ...
