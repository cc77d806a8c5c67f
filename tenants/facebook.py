"""Facebook Login: social-core's Facebook backend pointed at FACEBOOK_WWW_URL and GRAPH_API_URL.

In production those are Facebook's hosts; in `make dev` and the tests, the Graph sandbox.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from social_core.backends.facebook import FacebookOAuth2 as _FacebookOAuth2


class FacebookOAuth2(_FacebookOAuth2):  # type: ignore[type-arg]
    name = "facebook"

    @property
    def AUTHORIZATION_URL(self) -> str:  # type: ignore[override]
        return f"{settings.FACEBOOK_WWW_URL}/v{{version}}/dialog/oauth"

    @property
    def ACCESS_TOKEN_URL(self) -> str:  # type: ignore[override]
        return f"{settings.GRAPH_API_URL}/v{{version}}/oauth/access_token"

    @property
    def REVOKE_TOKEN_URL(self) -> str:  # type: ignore[override]
        return f"{settings.GRAPH_API_URL}/v{{version}}/{{uid}}/permissions"

    @property
    def USER_DATA_URL(self) -> str:  # type: ignore[override]
        return f"{settings.GRAPH_API_URL}/v{{version}}/me"

    def auth_extra_arguments(self) -> dict[str, Any]:
        # `auth_type` is configured empty so that `?auth_type=rerequest` may override it
        # (social-core's allow-list only admits configured keys); an empty one is not sent.
        return {key: value for key, value in super().auth_extra_arguments().items() if value}
