"""One JSON shape for every API error: {"error": {"code", "message", "details"}}."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.defaults import page_not_found
from django.views.defaults import server_error as html_server_error
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from tenants.exceptions import DomainError


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _first_message(detail: Any, path: str = "") -> str:
    """The first leaf message of a DRF error tree, prefixed by where it is."""
    if isinstance(detail, dict):
        for key, value in detail.items():
            where = key if key != "non_field_errors" else ""
            return _first_message(value, f"{path}.{where}".strip(".") if where else path)
    if isinstance(detail, list) and detail:
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                return _first_message(item, f"{path}[{index}]")
            return _first_message(item, path)
    text = str(detail)
    return f"{path}: {text}" if path else text


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DomainError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found. Check the workspace slug and the object's id.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = "The request is invalid: " + _first_message(details)
        response.data = error_body("invalid", message, details)
    elif isinstance(exc, exceptions.APIException):
        code = exc.get_codes()
        response.data = error_body(
            code if isinstance(code, str) else "error", str(exc.detail), None
        )
    return response


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 handler: JSON with the API's error shape under /api/, the HTML page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body("not_found", f"No API route matches {request.path}. See /api/docs/."),
            status=status.HTTP_404_NOT_FOUND,
        )
    return page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """500 handler: the API's error shape under /api/, the product's 500 page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body(
                "server_error",
                "Something went wrong on our side; the error was recorded. Try again in a minute.",
            ),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    return html_server_error(request)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: nothing was changed; say why in plain words and how to go on.

    `reason` is Django's technical wording (for example "CSRF cookie not set."); it is not
    shown, as it means nothing to the person and the page already says what to do.
    """
    if request.path.startswith("/api/"):
        return JsonResponse(
            error_body(
                "csrf_failed",
                "The CSRF check failed: send the X-CSRFToken header with the csrftoken cookie's "
                "value, or authenticate with an API key instead of the session.",
            ),
            status=status.HTTP_403_FORBIDDEN,
        )
    return render(request, "403_csrf.html", status=status.HTTP_403_FORBIDDEN)
