"""Forms of the dashboard pages."""

from __future__ import annotations

from django import forms

from inventory_hub.inventory.models import AllocationRuleVersion
from inventory_hub.inventory.rules import RuleValues


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
