"""Statuses for events that are never sent, each with its reason: not_sent, kept, test.

Test events already waiting as "pending" in a workspace that does not send them become "test"
(and back to "pending" on reverse), so none waits for a try that never comes.
"""

from django.db import migrations, models

TEST_REASON = (
    "Test event: stored in Pagepulse and not sent to Facebook. To send test events too, turn on "
    "“Send test events to Facebook” in the workspace's Settings."
)


def tests_say_so(apps, schema_editor):
    LoggedEvent = apps.get_model("events", "LoggedEvent")
    LoggedEvent.objects.filter(
        status="pending", test=True, tenant__deliver_test_events=False
    ).update(status="test", last_error=TEST_REASON)


def tests_back_to_pending(apps, schema_editor):
    LoggedEvent = apps.get_model("events", "LoggedEvent")
    LoggedEvent.objects.filter(status="test").update(status="pending", last_error="")
    # not_sent and kept did not exist before: such events had been refused or failed.
    LoggedEvent.objects.filter(status__in=["not_sent", "kept"]).update(status="failed")


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0003_log_indexes_by_id"),
        ("tenants", "0007_tenant_deliver_test_events"),
    ]

    operations = [
        migrations.AlterField(
            model_name="loggedevent",
            name="status",
            field=models.CharField(
                choices=[
                    ("pending", "Pending"),
                    ("sending", "Sending"),
                    ("delivered", "Delivered"),
                    ("retrying", "Retrying"),
                    ("dead", "Dead"),
                    ("failed", "Failed"),
                    ("blocked", "Blocked"),
                    ("not_sent", "Not sent"),
                    ("kept", "Kept in Pagepulse"),
                    ("test", "Test, not sent"),
                ],
                default="pending",
                max_length=10,
            ),
        ),
        migrations.RunPython(tests_say_so, tests_back_to_pending),
    ]
