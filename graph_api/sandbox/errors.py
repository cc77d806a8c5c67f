"""Graph-shaped errors, as Facebook sends them.

Every rejection the sandbox makes is a `GraphError`; the server turns it into
`{"error": {message, type, code, error_subcode?, error_user_title?, error_user_msg?,
is_transient, fbtrace_id}}` with its HTTP status. Keys Facebook leaves out when they have no value
(error_subcode, error_user_*) are left out here too, so a client that depends on them breaks in
tests rather than in production.
"""

from __future__ import annotations

import base64
import os
from typing import Any

OAUTH = "OAuthException"
METHOD = "GraphMethodException"

DOCS_HINT = (
    "Please read the Graph API documentation at https://developers.facebook.com/docs/graph-api"
)


def new_fbtrace_id() -> str:
    """An 11-character trace id in Facebook's alphabet (it only has to be unique, not secret)."""
    return base64.b64encode(os.urandom(9), altchars=b"_-").decode()[:11]


class GraphError(Exception):
    """One Graph API error response."""

    def __init__(
        self,
        message: str,
        code: int,
        *,
        error_type: str = OAUTH,
        subcode: int | None = None,
        status: int = 400,
        is_transient: bool = False,
        user_title: str | None = None,
        user_msg: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.error_type = error_type
        self.subcode = subcode
        self.status = status
        self.is_transient = is_transient
        self.user_title = user_title
        self.user_msg = user_msg
        self.headers = headers or {}

    def body(self, fbtrace_id: str) -> dict[str, Any]:
        """The JSON body Facebook sends for this error."""
        error: dict[str, Any] = {
            "message": self.message,
            "type": self.error_type,
            "code": self.code,
        }
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        if self.user_title is not None:
            error["error_user_title"] = self.user_title
        if self.user_msg is not None:
            error["error_user_msg"] = self.user_msg
        error["is_transient"] = self.is_transient
        error["fbtrace_id"] = fbtrace_id
        return {"error": error}


# --- Constructors for the errors that several handlers raise -------------------------------------


def invalid_param(message: str) -> GraphError:
    """(#100) Invalid parameter: the request is malformed and retrying it will not help."""
    return GraphError(f"(#100) {message}", 100)


def missing_param(name: str) -> GraphError:
    """(#100) for a required parameter that is absent or empty."""
    return invalid_param(f"The parameter {name} is required")


def unknown_object(method: str, object_id: str) -> GraphError:
    """What Graph answers for an id that does not exist or that the token may not see."""
    return GraphError(
        f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
        f"cannot be loaded due to missing permissions, or does not support this operation. "
        f"{DOCS_HINT}",
        100,
        error_type=METHOD,
        subcode=33,
    )


def unsupported_method(method: str) -> GraphError:
    """A known edge called with a method it does not serve."""
    return GraphError(f"Unsupported {method.lower()} request. {DOCS_HINT}", 100, error_type=METHOD)


def unknown_path(components: str) -> GraphError:
    """An edge that does not exist on this Graph version (e.g. page_activities after v20.0)."""
    return GraphError(f"Unknown path components: {components}", 2500)


def token_required() -> GraphError:
    """No access_token at all on a call that needs one."""
    return GraphError("An access token is required to request this resource.", 104)


def page_token_required() -> GraphError:
    """A user or app token where only a Page token will do."""
    return GraphError("(#210) A page access token is required to request this resource.", 210)


def missing_permission(permission: str, code: int = 200) -> GraphError:
    """The token lacks a permission (scope) the call needs."""
    return GraphError(f"(#{code}) Requires {permission} permission to manage the object", code)


def missing_task(task: str, page_id: str) -> GraphError:
    """The person behind the token cannot perform the task the call needs on the Page."""
    return GraphError(
        f"(#10) The person who granted this access token cannot perform the {task} task "
        f"on Page {page_id}",
        10,
    )


# Messages for code 190, by subcode; None is "token cannot be parsed" (no subcode).
TOKEN_ERROR_MESSAGES: dict[int | None, str] = {
    None: "Invalid OAuth access token - Cannot parse access token",
    458: "Error validating access token: The user has not authorized this application.",
    460: (
        "Error validating access token: The session has been invalidated because the user "
        "changed their password or Facebook has changed the session for security reasons."
    ),
    463: "Error validating access token: Session has expired.",
    467: "Error validating access token: The session is invalid because the user logged out.",
    492: (
        "Error validating access token: The user associated with the Page access token does "
        "not have an appropriate role on the Page."
    ),
}


def invalid_token(subcode: int | None = None, message: str | None = None) -> GraphError:
    """Code 190: the token is unparsable, expired or revoked."""
    text = message or TOKEN_ERROR_MESSAGES.get(subcode, TOKEN_ERROR_MESSAGES[463])
    return GraphError(text, 190, subcode=subcode)


def missing_proof() -> GraphError:
    """A token without appsecret_proof while the app requires one ("Require App Secret")."""
    return GraphError(
        "API calls from the server require an appsecret_proof argument", 100, error_type=METHOD
    )


def invalid_proof() -> GraphError:
    """An appsecret_proof that is not HMAC-SHA256(app secret, token)."""
    return GraphError(
        "Invalid appsecret_proof provided in the API argument", 100, error_type=METHOD
    )
