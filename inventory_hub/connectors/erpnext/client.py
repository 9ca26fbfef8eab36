"""Frappe's REST list API over the hub's HttpClient (APIS.md §3.2, FRAPPE_REST_ENVELOPE.md).

`GET {base_url}/api/resource/<DocType>?fields=[...]&filters=[...]&order_by=...&limit_start=N
&limit_page_length=M` with `Authorization: token <api_key>:<api_secret>`. `fields` and `filters`
are JSON-encoded, as Frappe's `frappe.api` parses them with `json.loads`.

Failures: HttpClient already classifies HTTP statuses (401/403 → "rejected the credentials", a 417
`DataError` such as "Field not permitted in query" → permanent, 429/5xx/timeouts → retried then
transient). Frappe's rate limiter sends `Retry-After` together with `X-RateLimit-Reset` (both the
seconds left in the window, `frappe/rate_limiter.py`), and HttpClient honours Retry-After. We do not
read X-RateLimit-Reset ourselves: only http.py sees responses, and without Retry-After it waits 1 s
per attempt before the Celery task's own backoff takes over (see the adapter's report for a
suggested fallback in `http.retry_after_seconds`).

What HttpClient cannot know is Frappe's error *inside a 200*: a body carrying `exc_type` /
`exception` instead of `data`. Lock, deadlock and timeout errors are worth retrying; any other
one is permanent and named.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

from inventory_hub.connectors.base import PermanentConnectorError, TransientConnectorError
from inventory_hub.connectors.http import HttpClient

SYSTEM = "ERPNext"
# Frappe exception types that say "the database was busy", not "your request is wrong".
TRANSIENT_EXC_TYPES = frozenset({"QueryDeadlockError", "QueryTimeoutError", "SessionStopped"})
IN_BODY_ATTEMPTS = 3


class FrappeClient:
    """Read-only access to one Frappe site's `/api/resource` list endpoint."""

    def __init__(
        self,
        *,
        base_url: str,
        credentials: Mapping[str, str],
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        api_key, api_secret = credentials.get("api_key"), credentials.get("api_secret")
        if not api_key or not api_secret:
            raise PermanentConnectorError("ERPNext connector needs both an api_key and an api_secret credential.")
        self.sleep = sleep
        self._http = HttpClient(
            system=SYSTEM,
            base_url=base_url,
            headers={"Authorization": f"token {api_key}:{api_secret}"},
            transport=transport,
            sleep=sleep,
        )

    def __enter__(self) -> FrappeClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def get_list(
        self,
        doctype: str,
        *,
        fields: Sequence[str],
        filters: Sequence[Sequence[Any]] = (),
        order_by: str,
        limit_start: int,
        limit_page_length: int,
    ) -> Any:
        """One page of a doctype's list, as the parsed JSON body (errors inside a 200 raised)."""
        params = {
            "fields": json.dumps(list(fields), separators=(",", ":")),
            "filters": json.dumps([list(f) for f in filters], separators=(",", ":")),
            "order_by": order_by,
            "limit_start": str(limit_start),
            "limit_page_length": str(limit_page_length),
        }
        path = f"/api/resource/{quote(doctype)}"
        for attempt in range(1, IN_BODY_ATTEMPTS + 1):
            body = self._http.request_json("GET", path, params=params)
            error = error_in_body(body)
            if error is None:
                return body
            if isinstance(error, PermanentConnectorError) or attempt == IN_BODY_ATTEMPTS:
                raise error
            self.sleep(float(2 ** (attempt - 1)))  # 1 s, 2 s: a deadlock clears quickly or not at all
        raise AssertionError("unreachable")  # pragma: no cover


def error_in_body(body: Any) -> PermanentConnectorError | TransientConnectorError | None:
    """The Frappe error a 200 body carries instead of `data`, classified; None for a normal body."""
    if not isinstance(body, dict) or "data" in body or not ("exc_type" in body or "exception" in body):
        return None
    exc_type = str(body.get("exc_type") or _exc_type_from(body.get("exception")) or "an unnamed error")
    detail = _message(body)
    message = f"ERPNext reported {exc_type}" + (f": {detail}" if detail else "") + "."
    if exc_type in TRANSIENT_EXC_TYPES:
        return TransientConnectorError(message)
    return PermanentConnectorError(message)


def _exc_type_from(exception: Any) -> str | None:
    # "frappe.exceptions.QueryDeadlockError: (1213, 'Deadlock found …')" → "QueryDeadlockError"
    if not isinstance(exception, str):
        return None
    head = exception.split(":", 1)[0].strip()
    return head.rsplit(".", 1)[-1] or None


def _message(body: Mapping[str, Any]) -> str:
    """The first human message: `_server_messages` is a JSON string of a list of JSON strings."""
    try:
        messages = json.loads(body.get("_server_messages") or "[]")
        first = json.loads(messages[0]) if messages else None
        if isinstance(first, dict) and first.get("message"):
            return str(first["message"])[:300]
    except (TypeError, ValueError, IndexError):
        pass  # a malformed message list must not hide the error itself
    exception = body.get("exception")
    if isinstance(exception, str) and ":" in exception:
        return exception.split(":", 1)[1].strip()[:300]
    return ""
