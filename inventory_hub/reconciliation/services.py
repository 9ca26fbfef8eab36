"""Writes about discrepancies. (Opening and closing them comes with reconciliation itself.)"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.utils import timezone

from inventory_hub.reconciliation.models import Discrepancy

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class AcknowledgementError(Exception):
    """The acknowledgement was refused, with a message for the user."""


def discrepancy_acknowledge(
    *, discrepancy: Discrepancy, user: AbstractBaseUser, note: str, now: dt.datetime | None = None
) -> Discrepancy:
    """Mark an open discrepancy as seen by a person, with their note."""
    if not note.strip():
        raise AcknowledgementError("Add a note: what did you find, or who is on it?")
    updated = Discrepancy.objects.filter(pk=discrepancy.pk, closed_at__isnull=True).update(
        acknowledged_at=now or timezone.now(), acknowledged_by=user, acknowledgement_note=note.strip()
    )
    if updated == 0:
        raise AcknowledgementError("This discrepancy has already closed.")
    discrepancy.refresh_from_db()
    return discrepancy
