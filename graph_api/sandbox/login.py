"""The www side: Facebook's OAuth login dialog.

`GET /{version}/dialog/oauth` shows a self-contained page where a person picks a test user, ticks
the permissions and Pages to grant, and is sent back to redirect_uri with `code` and `state`
(and granted_scopes/denied_scopes with return_scopes=true). As on Facebook, permissions the person
declined before are not asked again unless auth_type=rerequest, and permissions they granted stay
granted. `sandbox_auto=1` (or `--auto-login-user`) skips the page for plain HTTP clients.
"""

from __future__ import annotations

import html
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from aiohttp import web

from .seed import KNOWN_PERMISSIONS, User
from .state import AUTH_CODE_SECONDS, AuthCode, SandboxState

DIALOG_PARAMS = (
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "response_type",
    "return_scopes",
    "auth_type",
)


class DialogError(Exception):
    """A dialog request Facebook would answer with an error page instead of a redirect."""


@dataclass(frozen=True, slots=True)
class DialogRequest:
    """The checked parameters of one login dialog request."""

    params: dict[str, str]
    redirect_uri: str
    scopes: tuple[str, ...]
    rerequest: bool
    return_scopes: bool


@dataclass(frozen=True, slots=True)
class Asked:
    """What the dialog asks a given person, given what they granted or declined before."""

    ask: tuple[str, ...]
    already_granted: tuple[str, ...]
    not_asked_declined: tuple[str, ...]


def parse_dialog(query: Mapping[str, str], app_id: str) -> DialogRequest:
    """Check the dialog's parameters the way Facebook's dialog does."""
    if query.get("client_id") != app_id:
        raise DialogError(
            "Invalid App ID: The provided app ID does not look like a valid app ID."
            if not query.get("client_id")
            else f"Invalid App ID: {query['client_id']} is not this app's ID."
        )
    redirect_uri = query.get("redirect_uri", "")
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise DialogError("URL blocked: redirect_uri must be an absolute http(s) URL.")
    response_type = query.get("response_type", "code")
    if response_type != "code":
        raise DialogError(f"response_type={response_type} is not supported: use code.")
    auth_type = query.get("auth_type")
    if auth_type not in (None, "", "rerequest", "reauthenticate", "reauthorize"):
        raise DialogError(f"Invalid auth_type: {auth_type}")
    scopes = tuple(dict.fromkeys(s.strip() for s in query.get("scope", "").split(",") if s.strip()))
    if unknown := [s for s in scopes if s not in KNOWN_PERMISSIONS]:
        raise DialogError(f"Invalid Scopes: {', '.join(unknown)}.")
    return DialogRequest(
        params={k: query[k] for k in DIALOG_PARAMS if k in query},
        redirect_uri=redirect_uri,
        scopes=scopes,
        rerequest=auth_type == "rerequest",
        return_scopes=query.get("return_scopes") == "true",
    )


def asked_of(state: SandboxState, user_id: str, dialog: DialogRequest) -> Asked:
    """Split the requested permissions into asked, already granted, and declined-not-asked."""
    grant = state.grant_for(user_id)
    requested = [s for s in dialog.scopes if s != "public_profile"]
    already = tuple(s for s in requested if s in grant.granted)
    skipped = () if dialog.rerequest else tuple(s for s in requested if s in grant.declined)
    ask = tuple(s for s in requested if s not in already and s not in skipped)
    return Asked(ask, already, skipped)


def complete_login(
    state: SandboxState,
    user: User,
    dialog: DialogRequest,
    declined: Iterable[str],
    pages: Iterable[str] | None,
) -> str:
    """Record the person's choices and return the redirect URL with code and state."""
    asked = asked_of(state, user.id, dialog)
    declined_now = {s for s in asked.ask if s in set(declined)}
    grant = state.grant_for(user.id)
    grant.granted |= {"public_profile", *(s for s in asked.ask if s not in declined_now)}
    grant.declined = (grant.declined - grant.granted) | declined_now
    if pages is not None:
        own = state.pages_of(user.id)
        chosen = set(pages)
        grant.pages = tuple(p for p in own if p in chosen)
    code = state.new_auth_code(
        AuthCode(
            user_id=user.id,
            scopes=tuple(sorted(grant.granted)),
            granted_pages=grant.pages,
            client_id=dialog.params["client_id"],
            redirect_uri=dialog.redirect_uri,
            expires_at=time.time() + AUTH_CODE_SECONDS,
        )
    )
    answer = {"code": code}
    if "state" in dialog.params:
        answer["state"] = dialog.params["state"]
    if dialog.return_scopes:
        answer["granted_scopes"] = ",".join(sorted(grant.granted))
        answer["denied_scopes"] = ",".join(s for s in dialog.scopes if s in grant.declined)
    return with_query(dialog.redirect_uri, answer)


def cancelled_redirect(dialog: DialogRequest) -> str:
    """Where Facebook sends a person who pressed Cancel."""
    answer = {
        "error": "access_denied",
        "error_code": "200",
        "error_description": "Permissions error",
        "error_reason": "user_denied",
    }
    if "state" in dialog.params:
        answer["state"] = dialog.params["state"]
    return with_query(dialog.redirect_uri, answer)


def with_query(url: str, extra: Mapping[str, str]) -> str:
    """`url` with `extra` added to its query string."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


# --- aiohttp handlers --------------------------------------------------------------------------------


class LoginDialog:
    """The dialog's two handlers over one SandboxState."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    async def show(self, request: web.Request) -> web.StreamResponse:
        """GET …/dialog/oauth: redirect at once in auto mode, else show the page."""
        query = dict(request.query)
        try:
            dialog = parse_dialog(query, self.state.config.app_id)
        except DialogError as exc:
            return error_page(str(exc))
        auto_user = self.state.config.auto_login_user
        auto = query.get("sandbox_auto", "1" if auto_user else "0") == "1"
        user_id = query.get("sandbox_user") or (auto_user if auto else None)
        if auto:
            user = self.state.user(user_id or next(iter(self.state.seed.users)))
            if user is None:
                return error_page(f"sandbox_user {user_id} is not a test user.")
            declined = set(_csv(query.get("sandbox_decline")))
            # A person ticks what they would grant: whatever is not among their default
            # permissions is declined, so "Cleo" declines page_events unless told otherwise.
            declined |= {s for s in dialog.scopes if s not in user.default_permissions}
            declined.discard("public_profile")
            pages = _csv(query.get("sandbox_pages")) if "sandbox_pages" in query else None
            raise web.HTTPFound(complete_login(self.state, user, dialog, declined, pages))
        if user_id is None:
            return web.Response(text=render_pick_user(self.state, query), content_type="text/html")
        user = self.state.user(user_id)
        if user is None:
            return error_page(f"sandbox_user {user_id} is not a test user.")
        page = render_consent(self.state, user, dialog, request.path)
        return web.Response(text=page, content_type="text/html")

    async def confirm(self, request: web.Request) -> web.StreamResponse:
        """POST …/dialog/oauth/confirm: the consent form's answer."""
        form = await request.post()
        fields = {k: str(v) for k, v in form.items() if isinstance(v, str)}
        try:
            dialog = parse_dialog(fields, self.state.config.app_id)
        except DialogError as exc:
            return error_page(str(exc))
        if fields.get("action") == "cancel":
            raise web.HTTPFound(cancelled_redirect(dialog))
        user = self.state.user(fields.get("sandbox_user", ""))
        if user is None:
            return error_page("Pick a test user.")
        ticked = {str(v) for v in form.getall("perm", []) if isinstance(v, str)}
        asked = asked_of(self.state, user.id, dialog)
        declined = [s for s in asked.ask if s not in ticked]
        pages = [str(v) for v in form.getall("page", []) if isinstance(v, str)]
        raise web.HTTPFound(complete_login(self.state, user, dialog, declined, pages))


def _csv(raw: str | None) -> list[str]:
    return [item.strip() for item in (raw or "").split(",") if item.strip()]


# --- HTML ----------------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:#f0f2f5;margin:0;color:#1c1e21}
.box{max-width:520px;margin:48px auto;background:#fff;border-radius:8px;box-shadow:0 2px 12px rgba(0,0,0,.12);padding:24px}
h1{font-size:20px;margin:0 0 4px}p.note{color:#65676b;font-size:13px;margin:4px 0 16px}
.banner{background:#fff3cd;border:1px solid #ffe08a;border-radius:6px;padding:8px 12px;font-size:13px;margin-bottom:16px}
a.user{display:block;padding:12px;border:1px solid #dddfe2;border-radius:6px;margin:8px 0;text-decoration:none;color:inherit}
a.user:hover{background:#f5f6f7}label{display:block;padding:6px 0}fieldset{border:1px solid #dddfe2;border-radius:6px;margin:12px 0}
button{font-size:15px;padding:8px 18px;border-radius:6px;border:0;cursor:pointer;margin-right:8px}
.primary{background:#1877f2;color:#fff}.secondary{background:#e4e6eb;color:#050505}.muted{color:#65676b;font-size:13px}
.error{color:#b00020}
"""


def _page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head>"
        f"<body><div class=box><div class=banner>Graph sandbox: not Facebook. Test users only.</div>"
        f"{body}</div></body></html>"
    )


def error_page(message: str) -> web.Response:
    """The dialog's error page (Facebook shows one instead of redirecting)."""
    body = f"<h1>Sorry, something went wrong.</h1><p class=error>{html.escape(message)}</p>"
    return web.Response(status=400, text=_page("Error", body), content_type="text/html")


def render_pick_user(state: SandboxState, query: Mapping[str, str]) -> str:
    """Step 1: choose the test user to log in as."""
    links = []
    for user in state.seed.users.values():
        href = "?" + urlencode({**query, "sandbox_user": user.id})
        links.append(
            f"<a class=user href='{html.escape(href)}'><b>{html.escape(user.name)}</b><br>"
            f"<span class=muted>{html.escape(user.email)} · id {user.id} · "
            f"{len(user.page_tasks)} Pages</span></a>"
        )
    body = (
        f"<h1>Log in to {html.escape(state.seed.app_name)}</h1>"
        "<p class=note>Choose a test user.</p>" + "".join(links)
    )
    return _page("Log in", body)


def render_consent(state: SandboxState, user: User, dialog: DialogRequest, path: str) -> str:
    """Step 2: tick the permissions and Pages to grant."""
    asked = asked_of(state, user.id, dialog)
    hidden = "".join(
        f"<input type=hidden name='{html.escape(k)}' value='{html.escape(v)}'>"
        for k, v in {**dialog.params, "sandbox_user": user.id}.items()
    )
    perms = (
        "".join(
            f"<label><input type=checkbox name=perm value='{p}'"
            f"{' checked' if p in user.default_permissions else ''}> {p}</label>"
            for p in asked.ask
        )
        or "<p class=muted>Nothing new to ask.</p>"
    )
    notes = ""
    if asked.already_granted:
        notes += f"<p class=muted>Already granted: {', '.join(asked.already_granted)}</p>"
    if asked.not_asked_declined:
        notes += (
            f"<p class=muted>Declined before and not asked again (add auth_type=rerequest): "
            f"{', '.join(asked.not_asked_declined)}</p>"
        )
    grant = state.grant_for(user.id)
    pages = "".join(
        f"<label><input type=checkbox name=page value='{pid}'"
        f"{' checked' if grant.pages is None or pid in grant.pages else ''}> "
        f"{html.escape(state.seed.pages[pid].name)} <span class=muted>{pid} · "
        f"{', '.join(state.tasks(user.id, pid))}</span></label>"
        for pid in state.pages_of(user.id)
    )
    action = html.escape(path.rstrip("/") + "/confirm")
    body = (
        f"<h1>{html.escape(user.name)}, continue to {html.escape(state.seed.app_name)}?</h1>"
        f"<p class=note>{html.escape(state.seed.app_name)} is requesting access to:</p>"
        f"<form method=post action='{action}'>{hidden}"
        f"<fieldset><legend>Permissions</legend>{perms}{notes}</fieldset>"
        f"<fieldset><legend>Pages</legend>{pages or '<p class=muted>No Pages.</p>'}</fieldset>"
        "<button class=primary name=action value=continue>Continue</button>"
        "<button class=secondary name=action value=cancel>Cancel</button></form>"
    )
    return _page("Continue", body)
