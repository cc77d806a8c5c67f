"""Each API key belongs to its creator; keys of creators who left are revoked (a migration of
its own: PostgreSQL refuses the schema migration's deferred indexes after a data change)."""

from django.db import migrations, models
from django.utils import timezone

KEY_MANAGING_ROLES = ("owner", "admin")


def keys_belong_to_their_creators(apps, schema_editor):
    """Each key belongs to its creator; a key whose creator is gone or no longer an admin
    there is revoked now, with an audit event, instead of working on as it did before."""
    ApiKey = apps.get_model("tenants", "ApiKey")
    Membership = apps.get_model("tenants", "Membership")
    AuditEvent = apps.get_model("tenants", "AuditEvent")
    ApiKey.objects.update(owner_id=models.F("created_by_id"))
    now = timezone.now()
    for key in ApiKey.objects.filter(revoked_at__isnull=True).iterator():
        allowed = key.owner_id is not None and Membership.objects.filter(
            tenant_id=key.tenant_id, user_id=key.owner_id, role__in=KEY_MANAGING_ROLES
        ).exists()
        if allowed:
            continue
        key.revoked_at = now
        key.save(update_fields=["revoked_at"])
        AuditEvent.objects.create(
            tenant_id=key.tenant_id,
            actor=None,
            actor_label="system",
            action="api_key.revoked",
            target=f"pp_{key.prefix}_…",
            details={"name": key.name, "reason": "its creator is no longer an admin here"},
        )


class Migration(migrations.Migration):
    dependencies = [("tenants", "0008_api_keys_belong_to_members")]

    operations = [
        migrations.RunPython(keys_belong_to_their_creators, migrations.RunPython.noop),
    ]
