"""The runtime's models moved to messenger/ (state only: no table is touched)."""

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('flows', '0006_flowversion_published_by_api_key'),
    ]

    # State only: the tables stay, messenger.0001 takes them over (docs/adr/0013-messenger-app.md).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(
                    model_name='processedmessage',
                    name='delivery',
                ),
                migrations.DeleteModel(
                    name='OutboundMessage',
                ),
                migrations.DeleteModel(
                    name='ProcessedMessage',
                ),
                migrations.DeleteModel(
                    name='WebhookDelivery',
                ),
            ],
            database_operations=[],
        ),
    ]
