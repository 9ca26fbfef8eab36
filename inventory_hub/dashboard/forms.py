"""Forms of the dashboard pages."""

from __future__ import annotations

from typing import Any

from django import forms

from inventory_hub.inventory.models import AllocationRuleVersion, Channel, FulfillmentMethod, Location, Pool
from inventory_hub.inventory.rules import RuleValues
from inventory_hub.inventory.services import BoundaryEntrySpec, PoolDefinition


class AllocationRuleForm(forms.Form):
    """New values for an allocation rule, and why."""

    safety_stock = forms.IntegerField(min_value=0, help_text="Units held back from every promise.")
    channel_share_percent = forms.IntegerField(
        min_value=0, max_value=100, label="Channel share (%)", help_text="Share of the pool this channel may promise."
    )
    channel_priority = forms.IntegerField(min_value=1, help_text="1 is served first.")
    pickup_reservation = forms.IntegerField(min_value=0, help_text="Units reserved for store pickup.")
    reason = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 3}), help_text="Kept in the rule's history."
    )

    @classmethod
    def for_values(cls, values: RuleValues | None) -> AllocationRuleForm:
        initial = {name: getattr(values, name) for name in AllocationRuleVersion.VALUE_FIELDS} if values else {}
        return cls(initial=initial)

    def rule_values(self) -> RuleValues:
        return RuleValues(**{name: self.cleaned_data[name] for name in AllocationRuleVersion.VALUE_FIELDS})


class RulePreviewForm(AllocationRuleForm):
    """The editor's values while the ops lead types: the reason is asked for only on save."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = False


class PoolDefinitionForm(forms.Form):
    """The canonical pool's values, and why they change."""

    name = forms.CharField(max_length=200)
    scope = forms.ChoiceField(choices=Pool.Scope.choices, help_text="What the pool groups stock by.")
    channel = forms.ModelChoiceField(
        queryset=Channel.objects.order_by("name"), required=False, help_text="Needed when scoped per channel."
    )
    fulfillment_method = forms.ChoiceField(
        choices=[("", "—"), *FulfillmentMethod.choices],
        required=False,
        help_text="Needed when scoped per fulfillment method.",
    )
    locations = forms.ModelMultipleChoiceField(
        queryset=Location.objects.filter(is_active=True).order_by("code"),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="The hub locations whose stock the pool holds.",
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    reason = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), help_text="Kept in the pool's history."
    )

    @classmethod
    def for_pool(cls, pool: Pool) -> PoolDefinitionForm:
        return cls(
            initial={
                "name": pool.name,
                "scope": pool.scope,
                "channel": pool.channel_id,
                "fulfillment_method": pool.fulfillment_method,
                "locations": [location.pk for location in pool.locations.all()],
                "description": pool.description,
            },
            prefix="pool",
        )

    def definition(self) -> PoolDefinition:
        data = self.cleaned_data
        return PoolDefinition(
            name=data["name"],
            scope=data["scope"],
            channel_id=data["channel"].pk if data["channel"] else None,
            fulfillment_method=data["fulfillment_method"],
            location_ids=frozenset(location.pk for location in data["locations"]),
            description=data["description"],
        )


ENTRY_STATES = [("in", "Counted"), ("out", "Excluded"), ("remove", "Remove")]


class BoundaryForm(forms.Form):
    """One system's boundary of a pool: each entry's state, an optional new entry, notes and why.

    Each existing entry gets a field `entry_<pk>` (counted / excluded / remove); the new row's
    fields are `new_external_location_id`, `new_bin` and `new_state`.
    """

    new_external_location_id = forms.ChoiceField(required=False, label="Add a location")
    new_bin = forms.CharField(
        max_length=120,
        required=False,
        label="Bin",
        help_text="Blank: the whole site.",
        widget=forms.TextInput(attrs={"placeholder": "whole site"}),
    )
    new_state = forms.ChoiceField(choices=ENTRY_STATES[:2], initial="in", label="State")
    notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    reason = forms.CharField(
        max_length=2000, widget=forms.Textarea(attrs={"rows": 2}), help_text="Kept in the pool's history."
    )

    def __init__(
        self,
        *args: Any,
        entries: list[tuple[int, str, str, bool]],
        external_choices: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.entries = entries
        for pk, external_id, bin_name, included in entries:
            where = f"{external_id} bin {bin_name}" if bin_name else external_id
            self.fields[f"entry_{pk}"] = forms.ChoiceField(
                choices=ENTRY_STATES,
                initial="in" if included else "out",
                label="State",
                widget=forms.Select(attrs={"aria-label": f"State of {where}"}),
            )
        new_field = self.fields["new_external_location_id"]
        assert isinstance(new_field, forms.ChoiceField)  # noqa: S101 (narrows the type)
        new_field.choices = [("", "—"), *external_choices]

    def entry_field(self, pk: int) -> forms.BoundField:
        return self[f"entry_{pk}"]

    def entry_specs(self) -> list[BoundaryEntrySpec]:
        """The boundary as it should read after the save."""
        data = self.cleaned_data
        specs = [
            BoundaryEntrySpec(external_id, bin_name, data[f"entry_{pk}"] == "in")
            for pk, external_id, bin_name, _included in self.entries
            if data[f"entry_{pk}"] != "remove"
        ]
        if data["new_external_location_id"] or data["new_bin"].strip():
            specs.append(
                BoundaryEntrySpec(data["new_external_location_id"], data["new_bin"].strip(), data["new_state"] == "in")
            )
        return specs
