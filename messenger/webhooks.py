"""Messenger's webhook: `GET` answers the subscription handshake, `POST` takes deliveries.

A delivery's `X-Hub-Signature-256` is checked over the raw body with the app secret, in
constant time, before anything parses it (reference §6.2): a missing or wrong signature is a
403 and writes nothing. A good one is stored as it came and answered 200 at once, and the
runtime drains new deliveries in batches (messenger/intake.py, which also answers the POST in
production without Django's request cycle), because Facebook wants a quick 200 and retries
for 36 hours otherwise (§6.3).
"""

from __future__ import annotations

import hmac
import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from messenger import intake

logger = logging.getLogger(__name__)


def _forbidden(code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message, "details": {}}}, status=403)


def _handshake(request: HttpRequest) -> HttpResponse:
    """hub.mode=subscribe with our verify token: answer the challenge, as text (§6.1)."""
    token = settings.MESSENGER_VERIFY_TOKEN
    given = request.GET.get("hub.verify_token", "")
    if (
        request.GET.get("hub.mode") != "subscribe"
        or not token
        or not hmac.compare_digest(token.encode(), given.encode())
    ):
        logger.warning(
            "flows.webhook.handshake_refused", extra={"mode": request.GET.get("hub.mode")}
        )
        return _forbidden(
            "verify_token_mismatch",
            "hub.mode must be subscribe and hub.verify_token must be MESSENGER_VERIFY_TOKEN.",
        )
    logger.info("flows.webhook.handshake_ok")
    return HttpResponse(request.GET.get("hub.challenge", ""), content_type="text/plain")


def _receive(request: HttpRequest) -> HttpResponse:
    answer = intake.intake_answer(request.body, request.headers.get(intake.SIGNATURE_HEADER))
    return HttpResponse(answer.body, status=answer.status, content_type=answer.content_type)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def messenger_webhook(request: HttpRequest) -> HttpResponse:
    """`/webhooks/messenger`: Facebook's Messenger webhook (handshake and deliveries)."""
    if request.method == "GET":
        return _handshake(request)
    return _receive(request)
