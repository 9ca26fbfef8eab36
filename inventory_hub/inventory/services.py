"""Writes to the retailer's model. Every allocation rule edit is a new, audited version."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from inventory_hub.inventory import selectors
from inventory_hub.inventory.models import AllocationRule, AllocationRuleVersion, Channel, Pool
from inventory_hub.inventory.rules import RuleValues, rule_values_validate

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class RuleValidationError(Exception):
    """An allocation rule edit was refused; `errors` maps field name → message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _validate(
    *, rule: AllocationRule | None, pool: Pool, channel: Channel | None, values: RuleValues, reason: str
) -> None:
    errors = rule_values_validate(
        values,
        other_channel_shares=selectors.pool_channel_shares(pool=pool, exclude_rule_id=rule.pk if rule else None)
        if channel is not None
        else (),
    )
    if not reason.strip():
        errors["reason"] = "Say why: the reason is kept in the rule's history."
    if errors:
        raise RuleValidationError(errors)


def _version_add(
    *,
    rule: AllocationRule,
    values: RuleValues,
    author: AbstractBaseUser,
    reason: str,
    effective_from: dt.datetime | None,
    now: dt.datetime,
) -> AllocationRuleVersion:
    number = (rule.versions.aggregate(n=Max("number"))["n"] or 0) + 1
    return AllocationRuleVersion.objects.create(
        rule=rule,
        number=number,
        author=author,
        author_name=author.get_username(),
        reason=reason.strip(),
        effective_from=effective_from or now,
        created_at=now,
        **{name: getattr(values, name) for name in AllocationRuleVersion.VALUE_FIELDS},
    )


def allocation_rule_create(
    *,
    pool: Pool,
    channel: Channel | None,
    values: RuleValues,
    author: AbstractBaseUser,
    reason: str,
    now: dt.datetime | None = None,
) -> AllocationRule:
    """Create a rule with its first version."""
    now = now or timezone.now()
    _validate(rule=None, pool=pool, channel=channel, values=values, reason=reason)
    with transaction.atomic():
        rule = AllocationRule.objects.create(pool=pool, channel=channel)
        _version_add(rule=rule, values=values, author=author, reason=reason, effective_from=None, now=now)
    return rule


def allocation_rule_update(
    *,
    rule: AllocationRule,
    values: RuleValues,
    author: AbstractBaseUser,
    reason: str,
    effective_from: dt.datetime | None = None,
    now: dt.datetime | None = None,
) -> AllocationRuleVersion:
    """Edit a rule: add a new version (the previous ones stay readable)."""
    now = now or timezone.now()
    with transaction.atomic():
        # Serialises concurrent edits of one rule, so version numbers never collide.
        rule = AllocationRule.objects.select_for_update(of=("self",)).select_related("pool", "channel").get(pk=rule.pk)
        current = selectors.allocation_rule_values(rule=rule, at=now)
        if current == values:
            raise RuleValidationError({"__all__": "Nothing changed: the rule already has these values."})
        _validate(rule=rule, pool=rule.pool, channel=rule.channel, values=values, reason=reason)
        return _version_add(
            rule=rule, values=values, author=author, reason=reason, effective_from=effective_from, now=now
        )
