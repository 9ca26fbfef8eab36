"""Webhook signatures: base64(HMAC-SHA256(secret, raw body)), compared in constant time.

Shopify (X-Shopify-Hmac-Sha256) and ShipHero (X-ShipHero-HMAC-SHA256) sign the same way. The raw
bytes are signed, so a body parsed and re-serialised no longer verifies: verify before parsing.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

# Keys in Connector.credentials (names of secrets, not secrets).
SECRET = "webhook_secret"  # noqa: S105
PREVIOUS_SECRET = "webhook_secret_previous"  # noqa: S105
ROTATED_AT = "webhook_secret_rotated_at"  # ISO time the secret last changed


def signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signature_valid(*, body: bytes, header: str | None, secret: str) -> bool:
    if not header or not secret:
        return False
    return hmac.compare_digest(signature(secret, body).encode(), header.strip().encode())


def secrets_accepted(credentials: Mapping[str, Any], *, now: dt.datetime, overlap: dt.timedelta) -> list[str]:
    """The current secret, and the previous one within `overlap` of the rotation.

    After a rotation the sender may keep signing with the old secret for a while (Shopify: "up to
    an hour"), so both verify until the overlap has passed.
    """
    accepted = [credentials.get(SECRET, "")]
    previous, rotated = credentials.get(PREVIOUS_SECRET, ""), credentials.get(ROTATED_AT, "")
    if previous and rotated:
        try:
            rotated_at = dt.datetime.fromisoformat(rotated)
        except ValueError:
            rotated_at = None
        if rotated_at is not None and rotated_at.tzinfo is not None and now - rotated_at <= overlap:
            accepted.append(previous)
    return [secret for secret in accepted if secret]


def verified(
    *, body: bytes, header: str | None, credentials: Mapping[str, Any], now: dt.datetime, overlap: dt.timedelta
) -> bool:
    """Whether any accepted secret signed these bytes (every secret is tried: no early exit to time)."""
    results = [
        signature_valid(body=body, header=header, secret=s)
        for s in secrets_accepted(credentials, now=now, overlap=overlap)
    ]
    return any(results)
