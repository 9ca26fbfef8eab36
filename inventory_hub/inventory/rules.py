"""Allocation rule values and their validation: pure, no database."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

FIELD_LABELS = {
    "safety_stock": "Safety stock",
    "channel_share_percent": "Channel share (%)",
    "channel_priority": "Channel priority",
    "pickup_reservation": "Pickup reservation",
}


@dataclasses.dataclass(frozen=True, slots=True)
class RuleValues:
    """The editable values of an allocation rule."""

    safety_stock: int = 0
    channel_share_percent: int = 100
    channel_priority: int = 1
    pickup_reservation: int = 0

    def changes_from(self, old: RuleValues | None) -> list[tuple[str, int | None, int]]:
        """(label, old, new) for every value that differs from `old`."""
        return [
            (FIELD_LABELS[field.name], None if old is None else getattr(old, field.name), getattr(self, field.name))
            for field in dataclasses.fields(self)
            if old is None or getattr(old, field.name) != getattr(self, field.name)
        ]


def rule_values_validate(values: RuleValues, *, other_channel_shares: Iterable[int] = ()) -> dict[str, str]:
    """Field name → message for every impossible value; empty when the rule is valid.

    `other_channel_shares` are the shares of the pool's other active channel rules: together
    with this one they may not promise more than 100 % of the pool.
    """
    errors: dict[str, str] = {}
    if values.safety_stock < 0:
        errors["safety_stock"] = "Safety stock cannot be negative."
    if not 0 <= values.channel_share_percent <= 100:
        errors["channel_share_percent"] = "A channel share is a percentage between 0 and 100."
    else:
        others = sum(other_channel_shares)
        if others + values.channel_share_percent > 100:
            errors["channel_share_percent"] = (
                f"The pool's other channels already take {others}%; with this rule the shares "
                f"would total {others + values.channel_share_percent}%. Keep them within 100%."
            )
    if values.channel_priority < 1:
        errors["channel_priority"] = "Priority starts at 1 (served first)."
    if values.pickup_reservation < 0:
        errors["pickup_reservation"] = "A pickup reservation cannot be negative."
    return errors
