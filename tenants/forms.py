from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from django import forms
from django.utils import timezone
from django_countries import countries

from tenants.models import (
    TRANSCRIPT_RETENTION_DEFAULT_DAYS,
    TRANSCRIPT_RETENTION_MAX_DAYS,
    TRANSCRIPT_RETENTION_MIN_DAYS,
    AuditAction,
    DepartingMemberKeys,
)
from tenants.permissions import API_KEY_ROLE, API_KEY_ROLE_CHOICES, Role


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
    departing_member_keys = forms.ChoiceField(
        choices=DepartingMemberKeys.choices,
        label="When a member leaves",
        required=False,
        help_text="API keys belong to the member who made them. When that member is removed, "
        "or demoted below admin, their keys are revoked at once, or handed to the admin who "
        "made the change (recorded in the audit log).",
    )

    transcript_retention_days = forms.IntegerField(
        label="Keep conversation transcripts for (days)",
        min_value=TRANSCRIPT_RETENTION_MIN_DAYS,
        max_value=TRANSCRIPT_RETENTION_MAX_DAYS,
        required=False,
        help_text="What people and the bot wrote is kept this many days, then deleted (once a "
        f"day). From {TRANSCRIPT_RETENTION_MIN_DAYS} to {TRANSCRIPT_RETENTION_MAX_DAYS}; "
        f"{TRANSCRIPT_RETENTION_DEFAULT_DAYS} by default.",
    )

    def clean_departing_member_keys(self) -> str | None:
        return self.cleaned_data.get("departing_member_keys") or None  # absent: unchanged


class MemberAddForm(forms.Form):
    email = forms.EmailField(help_text="They must have signed in to Pagepulse once.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.EDITOR)


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class ApiKeyForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="Which integration will use this key.")
    role = forms.ChoiceField(
        choices=API_KEY_ROLE_CHOICES,
        initial=API_KEY_ROLE,
        required=False,
        help_text="What the key may do, never more than you. Viewer reads; editor also edits "
        "flows and logs events; admin also manages Pages and replays events. No key manages "
        "people or keys.",
    )
    expires_on = forms.DateField(
        required=False,
        label="Expires on",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: the key stops working at the end of this day (UTC).",
    )

    def clean_role(self) -> str:
        return self.cleaned_data.get("role") or API_KEY_ROLE

    def clean_expires_on(self) -> date | None:
        expires_on: date | None = self.cleaned_data.get("expires_on")
        if expires_on is not None and expires_on < timezone.now().date():
            raise forms.ValidationError("Choose today or a later day, or leave it empty.")
        return expires_on

    @property
    def expires_at(self) -> datetime | None:
        """The end of the chosen day, UTC."""
        expires_on = self.cleaned_data.get("expires_on")
        if expires_on is None:
            return None
        return datetime.combine(expires_on, time.max, tzinfo=UTC)


class AuditFilterForm(forms.Form):
    """The audit log's filters: who, what, and a day range (inclusive, in the site's zone)."""

    actor = forms.ChoiceField(label="Who", required=False)
    action = forms.ChoiceField(label="What", required=False)
    since = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: object, actors: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["actor"].choices = [("", "Anyone"), *[(a, a) for a in actors]]  # type: ignore[attr-defined]
        self.fields["action"].choices = [("", "Any action"), *AuditAction.choices]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        since, until = cleaned.get("since"), cleaned.get("until")
        if isinstance(since, date) and isinstance(until, date) and since > until:
            raise forms.ValidationError(
                f"“From” ({since:%-d %b %Y}) is after “To” ({until:%-d %b %Y}): swap them."
            )
        return cleaned

    def start(self) -> datetime | None:
        since = self.cleaned_data.get("since")
        return timezone.make_aware(datetime.combine(since, time.min)) if since else None

    def end(self) -> datetime | None:
        """The first moment after the `until` day."""
        until = self.cleaned_data.get("until")
        if not until:
            return None
        return timezone.make_aware(datetime.combine(until, time.min)) + timedelta(days=1)
