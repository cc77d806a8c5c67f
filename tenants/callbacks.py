"""Facebook's callbacks for apps with Facebook Login (paste their URLs into the app's settings,
README "Facebook's callbacks"):

- ``POST /facebook/data-deletion``: a person asked Facebook to delete their data; we delete it
  (tenants/services/facebook_callbacks.py) and answer ``{"url", "confirmation_code"}``;
- ``GET /facebook/data-deletion/<code>/``: the public status page that URL points to;
- ``POST /facebook/deauthorize``: a person removed the app; their Pages need a new login.

No session and no CSRF token: Facebook's servers post a ``signed_request`` form field, which is
the only proof (graph_api/signed_request.py). A missing or malformed one is 400, a bad signature
403, both in the API's error shape, and nothing is written.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from graph_api.signed_request import (
    ForgedSignedRequest,
    SignedRequest,
    SignedRequestError,
    parse_signed_request,
)
from tenants.api.errors import error_body
from tenants.models import DataDeletionRequest
from tenants.services.facebook_callbacks import facebook_data_deletion, facebook_deauthorized

logger = logging.getLogger(__name__)


def _error(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, message), status=status)


def _verified(request: HttpRequest, callback: str) -> SignedRequest | JsonResponse:
    if request.method != "POST":
        response = _error(
            405, "method_not_allowed", "Facebook posts this callback: use POST with signed_request."
        )
        response["Allow"] = "POST"
        return response
    try:
        return parse_signed_request(
            request.POST.get("signed_request", ""), secret=settings.FACEBOOK_APP_SECRET
        )
    except ForgedSignedRequest as error:
        logger.warning("tenants.facebook.callback_forged", extra={"callback": callback})
        return _error(403, "signature_invalid", str(error))
    except SignedRequestError as error:
        logger.warning(
            "tenants.facebook.callback_refused", extra={"callback": callback, "reason": str(error)}
        )
        return _error(400, "signed_request_invalid", str(error))


@csrf_exempt
@never_cache
def data_deletion(request: HttpRequest) -> HttpResponse:
    """Facebook's data deletion request callback: delete, then say where to follow it."""
    verified = _verified(request, "data_deletion")
    if isinstance(verified, JsonResponse):
        return verified
    deletion = facebook_data_deletion(
        user_id=verified.user_id, signed_request=request.POST["signed_request"]
    )
    url = request.build_absolute_uri(reverse("facebook_data_deletion_status", args=[deletion.code]))
    return JsonResponse({"url": url, "confirmation_code": deletion.code})


@csrf_exempt
@never_cache
def deauthorize(request: HttpRequest) -> HttpResponse:
    """Facebook's deauthorize callback: the person's Pages need a new login."""
    verified = _verified(request, "deauthorize")
    if isinstance(verified, JsonResponse):
        return verified
    pages = facebook_deauthorized(user_id=verified.user_id)
    return JsonResponse({"pages_needing_a_new_login": len(pages)})


DELETED_LABELS = {
    "facebook_logins": "Facebook Login connection",
    "page_grants": "Pages your Facebook Login found, with their access tokens",
    "page_tokens": "access tokens of Pages you connected",
    "names": "your name",
    "memberships": "workspace memberships",
    "accounts_closed": "your Pagepulse account's email and user name (the account is closed)",
}


def data_deletion_status(request: HttpRequest, code: str) -> HttpResponse:
    """Public: what a deletion request deleted and when. The code is its only key."""
    deletion = DataDeletionRequest.objects.filter(code=code).first()
    if deletion is None:
        raise Http404("No data deletion request has this confirmation code.")
    deleted = [
        (DELETED_LABELS[key], number)
        for key, number in deletion.deleted.items()
        if key in DELETED_LABELS and isinstance(number, int)
    ]
    return render(
        request,
        "tenants/data_deletion_status.html",
        {
            "deletion": deletion,
            "deleted": deleted,
            "kept_as_only_owner": deletion.deleted.get("kept_as_only_owner", []),
        },
    )
