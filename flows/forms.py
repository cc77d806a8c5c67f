from __future__ import annotations

from typing import Any

from django import forms

from flows.flow_templates import TEMPLATES
from tenants.models import ConnectedPage, PageStatus, Tenant


class FlowCreateForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, help_text="Empty: the template's name.")
    page = forms.ModelChoiceField(
        queryset=ConnectedPage.objects.none(), help_text="The Facebook Page this bot answers on."
    )
    template = forms.ChoiceField(
        required=False,
        choices=[("", "Blank"), *((t.key, t.name) for t in TEMPLATES.values())],
        help_text="Start from a ready-made flow, or from an empty one.",
    )

    def __init__(self, *args: Any, tenant: Tenant, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["page"].queryset = ConnectedPage.objects.for_tenant(tenant).exclude(  # type: ignore[attr-defined]
            status=PageStatus.DISCONNECTED
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("template") and not (data.get("name") or "").strip():
            self.add_error("name", "Give the flow a name, or pick a template.")
        return data
