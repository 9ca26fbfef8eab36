"""Writes to the retailer's model. Every allocation rule edit is a new, audited version; every pool
or boundary edit is recorded as a PoolChange (who, when, why, old → new)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from inventory_hub.inventory import selectors
from inventory_hub.inventory.models import (
    AllocationRule,
    AllocationRuleVersion,
    Channel,
    FulfillmentMethod,
    Location,
    Pool,
    PoolBoundary,
    PoolBoundaryEntry,
    PoolChange,
)
from inventory_hub.inventory.rules import RuleValues, rule_values_validate

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class RuleValidationError(Exception):
    """An allocation rule edit was refused; `errors` maps field name → message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def allocation_rule_validate(
    *, pool: Pool, channel: Channel | None, values: RuleValues, rule: AllocationRule | None = None
) -> dict[str, str]:
    """Field name → message for what would refuse these values (the reason aside); empty when valid.

    The editor calls this as the ops lead types; the save runs the same checks again.
    """
    return rule_values_validate(
        values,
        other_channel_shares=selectors.pool_channel_shares(pool=pool, exclude_rule_id=rule.pk if rule else None)
        if channel is not None
        else (),
    )


def _validate(
    *, rule: AllocationRule | None, pool: Pool, channel: Channel | None, values: RuleValues, reason: str
) -> None:
    errors = allocation_rule_validate(pool=pool, channel=channel, values=values, rule=rule)
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


# Pools and boundaries -------------------------------------------------------------------------


class PoolValidationError(Exception):
    """A pool or boundary edit was refused; `errors` maps field name → message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


REASON_MISSING = "Say why: the reason is kept in the pool's history."
NOTHING_CHANGED = "Nothing changed."


@dataclasses.dataclass(frozen=True, slots=True)
class PoolDefinition:
    """The canonical pool's editable values."""

    name: str
    scope: str
    channel_id: int | None
    fulfillment_method: str
    location_ids: frozenset[int]
    description: str = ""

    @classmethod
    def of(cls, pool: Pool) -> PoolDefinition:
        return cls(
            name=pool.name,
            scope=pool.scope,
            channel_id=pool.channel_id,
            fulfillment_method=pool.fulfillment_method,
            location_ids=frozenset(location.pk for location in pool.locations.all()),
            description=pool.description,
        )


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class BoundaryEntrySpec:
    """One of a system's own location ids (and optionally one bin) in or out of a pool."""

    external_location_id: str
    bin: str = ""
    included: bool = True

    def describe(self) -> str:
        return (
            f"{self.external_location_id} bin {self.bin}" if self.bin else f"{self.external_location_id} (whole site)"
        )


def pool_definition_validate(definition: PoolDefinition) -> dict[str, str]:
    """Field name → message for an impossible pool definition (the model's rules, said per field)."""
    errors: dict[str, str] = {}
    if not definition.name.strip():
        errors["name"] = "Give the pool a name."
    if definition.scope not in Pool.Scope.values:
        errors["scope"] = "Choose how the pool is scoped."
    if definition.scope == Pool.Scope.CHANNEL and definition.channel_id is None:
        errors["channel"] = "A channel-scoped pool needs a channel."
    if definition.fulfillment_method and definition.fulfillment_method not in FulfillmentMethod.values:
        errors["fulfillment_method"] = "Choose a fulfillment method from the list."
    if definition.scope == Pool.Scope.FULFILLMENT_METHOD and not definition.fulfillment_method:
        errors["fulfillment_method"] = "A fulfillment-method pool needs a fulfillment method."
    if not definition.location_ids:
        errors["locations"] = "A pool holds stock of at least one location."
    return errors


def _pool_change_add(
    *,
    pool: Pool,
    subject: str,
    changes: list[tuple[str, str | None, str | None]],
    author: AbstractBaseUser,
    reason: str,
    now: dt.datetime,
    connector_id: int | None = None,
) -> PoolChange:
    return PoolChange.objects.create(
        pool=pool,
        connector_id=connector_id,
        subject=subject,
        changes=[list(change) for change in changes],
        author=author,
        author_name=author.get_username(),
        reason=reason.strip(),
        created_at=now,
    )


def pool_update(
    *, pool: Pool, definition: PoolDefinition, author: AbstractBaseUser, reason: str, now: dt.datetime | None = None
) -> PoolChange:
    """Edit the canonical pool and record who changed what, when and why."""
    now = now or timezone.now()
    errors = pool_definition_validate(definition)
    if not reason.strip():
        errors["reason"] = REASON_MISSING
    if errors:
        raise PoolValidationError(errors)
    with transaction.atomic():
        pool = Pool.objects.select_for_update(of=("self",)).select_related("channel").get(pk=pool.pk)
        before = PoolDefinition.of(pool)
        changes = _definition_changes(before, definition)
        if not changes:
            raise PoolValidationError({"__all__": f"{NOTHING_CHANGED} The pool already has these values."})
        pool.name = definition.name.strip()
        pool.scope = definition.scope
        pool.channel_id = definition.channel_id
        pool.fulfillment_method = definition.fulfillment_method
        pool.description = definition.description.strip()
        pool.save()
        pool.locations.set(sorted(definition.location_ids))
        return _pool_change_add(
            pool=pool, subject="Pool definition", changes=changes, author=author, reason=reason, now=now
        )


def _definition_changes(old: PoolDefinition, new: PoolDefinition) -> list[tuple[str, str | None, str | None]]:
    """(what, old, new) in words for every value that differs."""
    channel_names = dict(Channel.objects.filter(pk__in=[old.channel_id, new.channel_id]).values_list("pk", "name"))
    location_codes = dict(Location.objects.filter(pk__in=old.location_ids | new.location_ids).values_list("pk", "code"))

    def codes(ids: frozenset[int]) -> str:
        return ", ".join(sorted(location_codes.get(i, f"#{i}") for i in ids)) or "none"

    def label(choices: type[Pool.Scope] | type[FulfillmentMethod], value: str) -> str:
        return str(dict(choices.choices).get(value, value)) if value else "none"

    changes: list[tuple[str, str | None, str | None]] = []
    if old.name != new.name.strip():
        changes.append(("Name", old.name, new.name.strip()))
    if old.scope != new.scope:
        changes.append(("Scope", label(Pool.Scope, old.scope), label(Pool.Scope, new.scope)))
    if old.channel_id != new.channel_id:
        changes.append(
            (
                "Channel",
                channel_names.get(old.channel_id, "none") if old.channel_id else "none",
                channel_names.get(new.channel_id, "none") if new.channel_id else "none",
            )
        )
    if old.fulfillment_method != new.fulfillment_method:
        changes.append(
            (
                "Fulfillment method",
                label(FulfillmentMethod, old.fulfillment_method),
                label(FulfillmentMethod, new.fulfillment_method),
            )
        )
    if old.location_ids != new.location_ids:
        changes.append(("Locations", codes(old.location_ids), codes(new.location_ids)))
    if old.description.strip() != new.description.strip():
        changes.append(("Description", old.description.strip() or "none", new.description.strip() or "none"))
    return changes


def pool_boundary_validate(
    *,
    entries: Sequence[BoundaryEntrySpec],
    known_external_ids: Sequence[str],
    existing: Sequence[tuple[str, str]] = (),
) -> dict[str, str]:
    """Field name → message for an impossible boundary (`new_…` fields are the row being added).

    Only added rows must name a location the system is known to have: a row already in the
    boundary stays editable after its mapping is gone (the pools page flags it).
    """
    errors: dict[str, str] = {}
    seen: set[tuple[str, str]] = set()
    known = set(known_external_ids)
    for entry in entries:
        key = (entry.external_location_id, entry.bin)
        if not entry.external_location_id:
            errors["new_external_location_id"] = "Choose one of the system's locations."
        elif entry.external_location_id not in known and key not in existing:
            errors["new_external_location_id"] = (
                f"The system has no location '{entry.external_location_id}': its ids come from its location mappings."
            )
        if key in seen:
            errors["new_bin"] = f"{entry.describe()} is already in the boundary; change its row instead."
        seen.add(key)
        if not entry.included and not entry.bin:
            errors["new_bin"] = (
                f"To leave all of {entry.external_location_id} out, remove its row; an exclusion names a bin."
            )
    return errors


def pool_boundary_update(
    *,
    pool: Pool,
    connector_id: int,
    connector_name: str,
    entries: Sequence[BoundaryEntrySpec],
    notes: str,
    known_external_ids: Sequence[str],
    author: AbstractBaseUser,
    reason: str,
    now: dt.datetime | None = None,
) -> PoolChange:
    """Set one system's boundary of a pool to exactly `entries` (creating it if needed), recording the edit."""
    now = now or timezone.now()
    current = list(
        PoolBoundaryEntry.objects.filter(boundary__pool=pool, boundary__connector_id=connector_id).values_list(
            "external_location_id", "bin"
        )
    )
    errors = pool_boundary_validate(entries=entries, known_external_ids=known_external_ids, existing=current)
    if not reason.strip():
        errors["reason"] = REASON_MISSING
    if errors:
        raise PoolValidationError(errors)
    with transaction.atomic():
        boundary, created = PoolBoundary.objects.select_for_update().get_or_create(
            pool=pool, connector_id=connector_id, defaults={"notes": notes.strip(), "updated_by": author}
        )
        existing = {(e.external_location_id, e.bin): e for e in PoolBoundaryEntry.objects.filter(boundary=boundary)}
        wanted = {(e.external_location_id, e.bin): e for e in entries}
        changes: list[tuple[str, str | None, str | None]] = []
        for key in sorted(existing.keys() - wanted.keys()):
            entry = existing[key]
            spec = BoundaryEntrySpec(entry.external_location_id, entry.bin, entry.included)
            changes.append((spec.describe(), _state(entry.included), None))
        for key in sorted(wanted.keys() - existing.keys()):
            changes.append((wanted[key].describe(), None, _state(wanted[key].included)))
        for key in sorted(wanted.keys() & existing.keys()):
            if existing[key].included != wanted[key].included:
                changes.append((wanted[key].describe(), _state(existing[key].included), _state(wanted[key].included)))
        if boundary.notes.strip() != notes.strip() and not created:
            changes.append(("Notes", boundary.notes.strip() or "none", notes.strip() or "none"))
        if not changes and not created:
            raise PoolValidationError({"__all__": f"{NOTHING_CHANGED} The boundary already reads like this."})

        PoolBoundaryEntry.objects.filter(pk__in=[existing[key].pk for key in existing.keys() - wanted.keys()]).delete()
        PoolBoundaryEntry.objects.bulk_create(
            [
                PoolBoundaryEntry(
                    boundary=boundary, external_location_id=key[0], bin=key[1], included=wanted[key].included
                )
                for key in sorted(wanted.keys() - existing.keys())
            ]
        )
        for key in wanted.keys() & existing.keys():
            if existing[key].included != wanted[key].included:
                PoolBoundaryEntry.objects.filter(pk=existing[key].pk).update(included=wanted[key].included)
        boundary.notes = notes.strip()
        boundary.updated_by = author  # type: ignore[assignment]
        boundary.save(update_fields=["notes", "updated_by", "updated_at"])
        return _pool_change_add(
            pool=pool,
            connector_id=connector_id,
            subject=f"{connector_name} boundary" + (" (new)" if created else ""),
            changes=changes or [("Boundary", None, "created with no entries")],
            author=author,
            reason=reason,
            now=now,
        )


def _state(included: bool) -> str:
    return "counted" if included else "excluded"
