"""Asking before anything destructive: one confirmation, shown two ways.

With JavaScript, the action's form holds a native <dialog> (templates/confirm_dialog.html) that
opens instead of submitting; its confirm button sends `confirm=yes`. Without JavaScript the form
is sent as it is, and the view answers with the same words as a page (templates/confirm.html)
whose form sends `confirm=yes`. Either way the server acts only on `confirm=yes` (and, where the
action cannot be undone, the typed name), so nothing destructive happens on one click.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

CONFIRM_FIELD = "confirm"
TYPED_FIELD = "confirm_text"
_NOT_REPEATED = {"csrfmiddlewaretoken", CONFIRM_FIELD, TYPED_FIELD}


@dataclass(frozen=True)
class Confirmation:
    """What a person is asked before a destructive action."""

    title: str  # the question, naming the thing: "Disconnect “Acme Shop”?"
    lost: list[str]  # what stops or is lost
    kept: list[str] = field(default_factory=list)  # what keeps working, how to undo
    button: str = "Confirm"  # the confirm button's words: the action ("Disconnect Page")
    typed: str = ""  # text to type before the button works (a key's or workspace's name)

    @property
    def typed_label(self) -> str:
        return f"Type {self.typed} to confirm"


def is_confirmed(request: HttpRequest, confirmation: Confirmation) -> bool:
    if request.POST.get(CONFIRM_FIELD) != "yes":
        return False
    return not confirmation.typed or request.POST.get(TYPED_FIELD, "").strip() == (
        confirmation.typed
    )


def confirm_page(
    request: HttpRequest, confirmation: Confirmation, *, cancel_url: str
) -> HttpResponse:
    """The confirmation as a page, for a form sent without `confirm=yes` (no JavaScript) or
    with a mistyped name (then a 400 saying so). The form repeats the original fields."""
    typed = request.POST.get(TYPED_FIELD, "")
    mistyped = request.POST.get(CONFIRM_FIELD) == "yes" and bool(confirmation.typed)
    fields = [(k, v) for k, v in request.POST.items() if k not in _NOT_REPEATED]
    return render(
        request,
        "confirm.html",
        {
            "c": confirmation,
            "action": request.path,
            "fields": fields,
            "cancel_url": cancel_url,
            "typed_value": typed,
            "typed_error": (
                f"That does not match. Type {confirmation.typed} exactly." if mistyped else ""
            ),
        },
        status=400 if mistyped else 200,
    )
