"""The types of the test clients' responses, for annotations only: django-stubs and DRF's stubs
name them privately and they do not exist at run time (import them under TYPE_CHECKING)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse
    from rest_framework.response import _MonkeyPatchedResponse as APIResponse

    AnyResponse = TestResponse | APIResponse

__all__ = ["APIResponse", "AnyResponse", "TestResponse"]
