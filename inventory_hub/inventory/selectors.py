"""Reads of the retailer's model."""

from __future__ import annotations

import dataclasses
import datetime as dt

from django.db.models import QuerySet
from django.utils import timezone

from inventory_hub.inventory.models import AllocationRule, AllocationRuleVersion, Location, Pool, PoolChange
from inventory_hub.inventory.rules import RuleValues


@dataclasses.dataclass(frozen=True, slots=True)
class RuleChange:
    """One version of a rule as a history entry: who, when, why, old → new."""

    version: AllocationRuleVersion
    changes: list[tuple[str, int | None, int]]


def location_list(*, active_only: bool = True) -> QuerySet[Location]:
    """Locations in code order."""
    qs = Location.objects.all()
    return qs.filter(is_active=True) if active_only else qs


def version_values(version: AllocationRuleVersion) -> RuleValues:
    """The values a version holds."""
    return RuleValues(**{name: getattr(version, name) for name in AllocationRuleVersion.VALUE_FIELDS})


def allocation_rule_values(*, rule: AllocationRule, at: dt.datetime | None = None) -> RuleValues | None:
    """The values in force at `at` (now when None); None before the first version took effect."""
    at = at or timezone.now()
    version = rule.versions.filter(effective_from__lte=at).order_by("-effective_from", "-number").first()
    return version_values(version) if version else None


def allocation_rule_history(*, rule: AllocationRule) -> list[RuleChange]:
    """Every version, newest first, each with what it changed from the one before."""
    versions = list(rule.versions.order_by("number").select_related("author"))
    history: list[RuleChange] = []
    previous: RuleValues | None = None
    for version in versions:
        values = version_values(version)
        history.append(RuleChange(version=version, changes=values.changes_from(previous)))
        previous = values
    return history[::-1]


def allocation_rule_list() -> QuerySet[AllocationRule]:
    """Rules with their pool and channel, for listing."""
    return AllocationRule.objects.select_related("pool", "channel").order_by("pool__code", "channel__code")


def allocation_rule_current_list(*, at: dt.datetime | None = None) -> list[tuple[AllocationRule, RuleValues | None]]:
    """Every rule with the values in force at `at` (now), in two queries."""
    at = at or timezone.now()
    rules = list(allocation_rule_list())
    current: dict[int, AllocationRuleVersion] = {}
    versions = AllocationRuleVersion.objects.filter(
        rule__in=[rule.pk for rule in rules], effective_from__lte=at
    ).order_by("rule_id", "effective_from", "number")
    for version in versions:
        current[version.rule_id] = version  # the last one per rule wins
    return [(rule, version_values(current[rule.pk]) if rule.pk in current else None) for rule in rules]


def pool_channel_shares(*, pool: Pool, exclude_rule_id: int | None = None, at: dt.datetime | None = None) -> list[int]:
    """Current channel shares of the pool's active per-channel rules (one query, whatever their number)."""
    at = at or timezone.now()
    versions = AllocationRuleVersion.objects.filter(
        rule__pool=pool, rule__is_active=True, rule__channel__isnull=False, effective_from__lte=at
    )
    if exclude_rule_id is not None:
        versions = versions.exclude(rule_id=exclude_rule_id)
    current: dict[int, int] = {}
    for rule_id, share in versions.order_by("rule_id", "effective_from", "number").values_list(
        "rule_id", "channel_share_percent"
    ):
        current[rule_id] = share  # the last one per rule wins
    return list(current.values())


def pool_change_list(*, pool: Pool, limit: int = 50) -> list[PoolChange]:
    """The pool's latest edits (definition and boundaries), newest first."""
    return list(PoolChange.objects.filter(pool=pool).order_by("-created_at", "-pk")[:limit])
