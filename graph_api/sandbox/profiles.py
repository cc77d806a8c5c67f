"""The User Profile API's people: names for simulated Messenger users and their pictures.

A PSID made from a seed user (``psid_for``) answers with that user's name; any other PSID that
wrote to a Page gets a name drawn from the PSID itself, so the same person keeps one name across
restarts. Pictures are small SVGs the sandbox serves itself (a browser shows them offline), under
a URL that expires like Facebook's CDN URLs: ``oe`` is the expiry as hex Unix time and ``oh`` a
keyed hash of the path and ``oe``, so a changed or stale URL is refused with 403.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from html import escape

from aiohttp import web

from .seed import Seed, psid_for
from .state import SandboxState

PICTURE_PATH = "/_sandbox/profile-pic/{psid}.svg"
PICTURE_TTL_SECONDS = 3 * 24 * 3600
"""How long a profile_pic URL works; Facebook's signed CDN URLs last a few days."""

FIRST_NAMES = ("Ada", "Bruno", "Chioma", "Dmitri", "Elif", "Farah", "Goran", "Hana", "Ines", "Jun")
LAST_NAMES = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Kowalski")
COLOURS = ("#1d4ed8", "#047857", "#b45309", "#7c3aed", "#be123c", "#0e7490")


def profile_name(seed: Seed, page_id: str, psid: str) -> tuple[str, str]:
    """(first, last) of the person behind ``psid`` on ``page_id``."""
    for user in seed.users.values():
        if psid_for(user.id, page_id) == psid:
            first, _, last = user.name.partition(" ")
            return first, last
    number = int(hashlib.sha256(f"name:{psid}".encode()).hexdigest()[:8], 16)
    return FIRST_NAMES[number % len(FIRST_NAMES)], LAST_NAMES[number // 7 % len(LAST_NAMES)]


def _picture_hash(secret: str, psid: str, expires_hex: str) -> str:
    message = f"{psid}:{expires_hex}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:32]


def picture_url(base_url: str, secret: str, psid: str, now: float | None = None) -> str:
    """A profile_pic URL for ``psid`` that works for PICTURE_TTL_SECONDS from ``now``."""
    expires_hex = format(int((now or time.time()) + PICTURE_TTL_SECONDS), "x")
    path = PICTURE_PATH.format(psid=psid)
    return f"{base_url}{path}?oh={_picture_hash(secret, psid, expires_hex)}&oe={expires_hex}"


def picture_svg(first: str, last: str, psid: str) -> str:
    """A round avatar with the person's initials."""
    initials = escape((first[:1] + last[:1]).upper() or "?")
    colour = COLOURS[int(psid[-4:] or "0") % len(COLOURS)] if psid.isdigit() else COLOURS[0]
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 100 100" width="100" height="100">'
        f'<circle cx="50" cy="50" r="50" fill="{colour}"/>'
        '<text x="50" y="63" font-family="sans-serif" font-size="38" font-weight="700" '
        f'fill="#fff" text-anchor="middle">{initials}</text></svg>'
    )


class ProfilePictures:
    """The sandbox's picture host for profile_pic URLs."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/_sandbox/profile-pic/{psid:[0-9]+}.svg", self.picture)]

    async def picture(self, request: web.Request) -> web.Response:
        """GET /_sandbox/profile-pic/{psid}.svg?oh=&oe=: the avatar; 403 for a bad or old URL."""
        psid = request.match_info["psid"]
        expires_hex = request.query.get("oe", "")
        try:
            expires = int(expires_hex, 16)
        except ValueError:
            return web.Response(status=403, text="Bad URL hash")
        expected = _picture_hash(self.state.config.app_secret, psid, expires_hex)
        if not hmac.compare_digest(request.query.get("oh", ""), expected):
            return web.Response(status=403, text="Bad URL hash")
        if expires < time.time():
            return web.Response(status=403, text="URL signature expired")
        first, last = _any_page_name(self.state.seed, psid)
        return web.Response(
            text=picture_svg(first, last, psid),
            content_type="image/svg+xml",
            headers={"Cache-Control": "private, max-age=3600"},
        )


def _any_page_name(seed: Seed, psid: str) -> tuple[str, str]:
    for page_id in seed.pages:
        for user in seed.users.values():
            if psid_for(user.id, page_id) == psid:
                first, _, last = user.name.partition(" ")
                return first, last
    return profile_name(seed, "", psid)
