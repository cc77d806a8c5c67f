"""The one table that says who may do what in a workspace.

Each permission names the least role that holds it; a higher role holds everything a lower one
does. Views, API viewsets and services ask `role_can`; nothing else decides.
"""

from __future__ import annotations

from django.db import models


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"


ROLE_RANK: dict[str, int] = {Role.VIEWER: 0, Role.EDITOR: 1, Role.ADMIN: 2, Role.OWNER: 3}

PERMISSIONS: dict[str, Role] = {
    # the workspace itself
    "tenant.view": Role.VIEWER,
    "tenant.update": Role.ADMIN,
    "tenant.delete": Role.OWNER,
    # people and credentials
    "member.view": Role.VIEWER,
    "member.manage": Role.ADMIN,
    "member.manage_owners": Role.OWNER,  # grant, change or remove the owner role
    "api_key.view": Role.ADMIN,
    "api_key.manage": Role.ADMIN,
    "audit.view": Role.ADMIN,
    # connected Facebook Pages
    "page.view": Role.VIEWER,
    "page.manage": Role.ADMIN,
    # flows
    "flow.view": Role.VIEWER,
    "flow.edit": Role.EDITOR,
    "flow.publish": Role.EDITOR,
    # conversations a handoff block flagged for a person
    "handoff.view": Role.VIEWER,
    "handoff.resolve": Role.EDITOR,
    # the inbox: reading every conversation, and answering, taking over, handing back, closing
    "conversation.view": Role.VIEWER,
    "conversation.answer": Role.EDITOR,
    # the people who wrote to the Pages: tags, and deleting one person's data
    "people.view": Role.VIEWER,
    "people.tag": Role.EDITOR,
    "people.delete": Role.ADMIN,
    # logged events
    "event.view": Role.VIEWER,
    "event.log": Role.EDITOR,
    "event.replay": Role.ADMIN,
    # the marketer's overview and Ads Manager's numbers; following ad accounts reads with a
    # person's Facebook token, so only admins connect and choose
    "insights.view": Role.VIEWER,
    "ads.manage": Role.ADMIN,
}

# An API key acts for an integration with the role chosen when it was made: viewer, editor
# (the default) or admin, never above its owner's. Whatever its role, a key never manages
# people or keys and never deletes the workspace, so a leaked key cannot mint more keys or
# let someone in.
API_KEY_ROLE = Role.EDITOR
API_KEY_ROLES: tuple[Role, ...] = (Role.VIEWER, Role.EDITOR, Role.ADMIN)
API_KEY_ROLE_CHOICES: list[tuple[str, str]] = [(role.value, role.label) for role in API_KEY_ROLES]
PERSON_ONLY_PERMISSIONS = frozenset(
    {"member.manage", "member.manage_owners", "api_key.view", "api_key.manage", "tenant.delete"}
)


def role_can(role: str | None, permission: str) -> bool:
    """Whether `role` holds `permission`. Unknown permissions are a programming error."""
    least = PERMISSIONS[permission]
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[least]


def api_key_can(role: str | None, permission: str) -> bool:
    """Whether an API key with `role` holds `permission` (never a person-only one)."""
    return permission not in PERSON_ONLY_PERMISSIONS and role_can(role, permission)
