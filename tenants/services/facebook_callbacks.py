"""Facebook's callbacks for apps with Facebook Login: a person's data deletion request, and a
person removing the app (deauthorize). Both name the person by ``user_id``, the app-scoped id
of someone who signed in to Pagepulse with Facebook (social-auth's ``UserSocialAuth.uid`` for
provider ``facebook``): one of our customers, not a Messenger user.

What a data deletion request deletes, and why (README "Facebook's callbacks"):

- Everything we got from Facebook through their login: the ``UserSocialAuth`` link (with
  whatever social-auth kept in ``extra_data``), their Page grants (the Pages their login found,
  with page tokens), and the page token of every Page they connected. Those Pages keep running
  nothing: they become ``needs_reauth`` with a reason the Pages screen shows, so an admin
  reconnects them with their own login; a Page already disconnected just loses its kept token.
- Their name on the account (it came from Facebook).
- An account that signs in only with Facebook (no password) can no longer sign in at all, and
  everything identifying on it came from Facebook: its email and user name are cleared, it is
  made inactive, and its memberships are removed, with their API keys revoked or handed over
  as each workspace chose; except where the person is the workspace's only owner. That
  membership stays (removing it would leave a workspace no one can manage, transfer or
  delete, and the workspace's data belongs to the business, not to the person); the status
  page says so, and support can hand the workspace over.
- An account that also has a Pagepulse password was made by the person in Pagepulse: its email,
  user name and memberships are theirs, not Facebook's, and stay.
- Nothing a workspace owns is deleted (flows, events, audit rows): it is the business's data.

Each affected workspace records it in its audit log. The request itself is kept as a
``DataDeletionRequest`` without the Facebook id, for its public status page.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.utils import timezone
from social_django.models import UserSocialAuth

from tenants.models import (
    AuditAction,
    ConnectedPage,
    DataDeletionRequest,
    Membership,
    PageGrant,
    PageStatus,
    Tenant,
)
from tenants.permissions import Role
from tenants.services.workspaces import Actor, _departing_member_keys, audit_record

logger = logging.getLogger(__name__)

PROVIDER = "facebook"
FACEBOOK = Actor(user=None)
DELETED_REASON = (
    "The person who connected this Page asked Facebook to delete their data, so its access "
    "token was deleted. Continue with Facebook to connect it again with your own login."
)
REMOVED_REASON = (
    "The person who connected this Page removed Pagepulse from their Facebook account, so its "
    "access token no longer works. Continue with Facebook to connect it again."
)


def subject_hash(user_id: str) -> str:
    """A keyed hash of the person's app-scoped id: requests can be told apart, the id not kept."""
    key = f"facebook-data-deletion:{settings.SECRET_KEY}".encode()
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()


def _people(user_id: str) -> list[User]:
    return list(
        User.objects.filter(
            social_auth__provider=PROVIDER, social_auth__uid=user_id
        ).select_for_update()
    )


@dataclass
class _Deleted:
    counts: dict[str, int] = field(default_factory=dict)
    kept_as_only_owner: list[str] = field(default_factory=list)

    def add(self, name: str, number: int) -> None:
        if number:
            self.counts[name] = self.counts.get(name, 0) + number


def facebook_data_deletion(*, user_id: str, signed_request: str) -> DataDeletionRequest:
    """Delete what we hold from Facebook about ``user_id`` (see the module's docstring).

    Idempotent: the same signed_request again answers with the request made the first time,
    also when both arrive at once (the second waits on the person's row, then finds the first's
    request by its unique hash).
    """
    request_hash = hashlib.sha256(signed_request.encode()).hexdigest()
    try:
        return _data_deletion(user_id, request_hash)
    except IntegrityError:
        return DataDeletionRequest.objects.get(request_hash=request_hash)


@transaction.atomic
def _data_deletion(user_id: str, request_hash: str) -> DataDeletionRequest:
    existing = DataDeletionRequest.objects.filter(request_hash=request_hash).first()
    if existing is not None:
        return existing
    deleted = _Deleted()
    people = _people(user_id)
    for user in people:
        _delete_for(user, user_id, deleted)
    details: dict[str, object] = dict(deleted.counts)
    if deleted.kept_as_only_owner:
        details["kept_as_only_owner"] = deleted.kept_as_only_owner
    request = DataDeletionRequest.objects.create(
        code=secrets.token_urlsafe(24),
        request_hash=request_hash,
        subject_hash=subject_hash(user_id),
        found=bool(people),
        deleted=details,
        completed_at=timezone.now(),
    )
    logger.info(
        "tenants.facebook.data_deleted",
        extra={"request_id": request.pk, "found": request.found, **deleted.counts},
    )
    return request


def _delete_for(user: User, user_id: str, deleted: _Deleted) -> None:
    label = f"account {user.pk}"
    affected: dict[int, Tenant] = {}
    pages = list(ConnectedPage.objects.filter(connected_by=user).select_related("tenant"))
    for page in pages:
        if page.token_encrypted:
            deleted.add("page_tokens", 1)
        if page.status != PageStatus.DISCONNECTED:
            page.status = PageStatus.NEEDS_REAUTH
            page.last_error = DELETED_REASON
        page.token_encrypted = ""
        page.save(update_fields=["status", "last_error", "token_encrypted", "updated_at"])
        affected[page.tenant_id] = page.tenant
    grants, _ = PageGrant.objects.filter(user=user).delete()
    deleted.add("page_grants", grants)
    links, _ = UserSocialAuth.objects.filter(user=user, provider=PROVIDER).delete()
    deleted.add("facebook_logins", links)

    memberships = list(Membership.objects.filter(user=user).select_related("tenant"))
    facebook_only = not user.has_usable_password()
    removed: set[int] = set()
    if facebook_only:
        for membership in memberships:
            if membership.role == Role.OWNER and not (
                Membership.objects.filter(tenant=membership.tenant, role=Role.OWNER)
                .exclude(pk=membership.pk)
                .exists()
            ):
                deleted.kept_as_only_owner.append(membership.tenant.name)
                continue
            _departing_member_keys(tenant=membership.tenant, actor=FACEBOOK, departing=membership)
            membership.delete()
            removed.add(membership.tenant_id)
            deleted.add("memberships", 1)
        user.email = ""
        user.username = f"deleted-{user.pk}-{secrets.token_hex(4)}"
        user.is_active = False
        deleted.add("accounts_closed", 1)
    if user.first_name or user.last_name:
        deleted.add("names", 1)
    user.first_name = user.last_name = ""
    user.save()

    for membership in memberships:
        affected.setdefault(membership.tenant_id, membership.tenant)
    for tenant in affected.values():
        tenant_pages = [p.name for p in pages if p.tenant_id == tenant.pk]
        details: dict[str, object] = {
            "pages_needing_a_new_login": ", ".join(tenant_pages) or "none"
        }
        details["membership"] = "removed" if tenant.pk in removed else "kept"
        audit_record(
            tenant=tenant,
            actor=FACEBOOK,
            action=AuditAction.FACEBOOK_DATA_DELETED,
            target=label,
            details=details,
        )


@transaction.atomic
def facebook_deauthorized(*, user_id: str) -> list[ConnectedPage]:
    """The person removed our app: the Pages they connected need a new login (their tokens are
    dead), their Page grants' tokens are forgotten. Repeated, it changes nothing more."""
    changed: list[ConnectedPage] = []
    for user in _people(user_id):
        PageGrant.objects.filter(user=user).exclude(token_encrypted="").update(token_encrypted="")
        pages = (
            ConnectedPage.objects.filter(connected_by=user)
            .exclude(status__in=[PageStatus.DISCONNECTED])
            .exclude(status=PageStatus.NEEDS_REAUTH, last_error=REMOVED_REASON)
            .select_related("tenant")
            .select_for_update()
        )
        for page in pages:
            page.status = PageStatus.NEEDS_REAUTH
            page.last_error = REMOVED_REASON
            page.save(update_fields=["status", "last_error", "updated_at"])
            audit_record(
                tenant=page.tenant,
                actor=FACEBOOK,
                action=AuditAction.FACEBOOK_APP_REMOVED,
                target=page.name,
                details={"status": PageStatus.NEEDS_REAUTH, "reason": REMOVED_REASON},
            )
            changed.append(page)
    logger.info("tenants.facebook.deauthorized", extra={"pages": len(changed)})
    return changed
