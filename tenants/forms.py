from __future__ import annotations

from django import forms
from django_countries import countries

from tenants.permissions import Role


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Usually your business's name.")
    country = forms.ChoiceField(
        choices=[("", "Choose a country"), *countries],
        help_text="Where the business is based. Facebook's Events API is not offered in "
        "Europe or Japan, so this decides which event transports your pages can use.",
    )

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Give the workspace a name.")
        return name


class WorkspaceSettingsForm(WorkspaceForm):
    deliver_test_events = forms.BooleanField(
        required=False,
        label="Send test events to Facebook",
        help_text='Events from the test chat (and API calls with "test": true) are stored and '
        "shown under Test events; with this on they are also delivered to your Pages, e.g. to "
        "check them in Events Manager. Off by default.",
    )


class MemberAddForm(forms.Form):
    email = forms.EmailField(help_text="They must have signed in to Pagepulse once.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Which integration will use this key.")
