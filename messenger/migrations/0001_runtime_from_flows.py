"""flows' runtime models (deliveries, processed mids, outbound messages), taken over as they are."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('flows', '0007_runtime_moved_to_messenger'),
        ('tenants', '0012_deletion_undo_last_used'),
    ]

    # State only: the tables flows created (flows_webhookdelivery, flows_processedmessage,
    # flows_outboundmessage) are kept as they are, with every row (db_table on each model).
    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='WebhookDelivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('body', models.BinaryField(help_text='The raw request body, the signed bytes.')),
                        ('received_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now)),
                        ('processed_at', models.DateTimeField(blank=True, null=True)),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('error', models.TextField(blank=True, default='')),
                        ('unrouted', models.JSONField(blank=True, default=list, help_text='[{page_id, reason}] of entries that were ignored.')),
                    ],
                    options={
                        'verbose_name_plural': 'webhook deliveries',
                        'db_table': 'flows_webhookdelivery',
                        'ordering': ['-received_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='OutboundMessage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('created_at', models.DateTimeField(default=django.utils.timezone.now, editable=False)),
                        ('updated_at', models.DateTimeField(auto_now=True)),
                        ('seq', models.PositiveIntegerField(help_text='Order within the conversation.')),
                        ('node_id', models.CharField(blank=True, default='', max_length=100)),
                        ('message', models.JSONField(help_text='The Send API `message` object exactly.')),
                        ('status', models.CharField(choices=[('pending', 'Pending'), ('sent', 'Sent'), ('failed', 'Failed'), ('skipped', 'Skipped')], default='pending', max_length=20)),
                        ('reason', models.TextField(blank=True, default='', help_text='Why it failed or was skipped.')),
                        ('attempts', models.PositiveIntegerField(default=0)),
                        ('message_id', models.CharField(blank=True, default='', max_length=255)),
                        ('sent_at', models.DateTimeField(blank=True, null=True)),
                        ('conversation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='outbound_messages', to='flows.conversation')),
                        ('tenant', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to='tenants.tenant')),
                    ],
                    options={
                        'db_table': 'flows_outboundmessage',
                        'ordering': ['conversation_id', 'seq'],
                        'indexes': [models.Index(fields=['tenant', 'conversation', 'status', 'seq'], name='outbound_conv_status'), models.Index(fields=['status', 'created_at'], name='outbound_status_created')],
                        'constraints': [models.UniqueConstraint(fields=('tenant', 'conversation', 'seq'), name='outbound_unique_seq')],
                    },
                ),
                migrations.CreateModel(
                    name='ProcessedMessage',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('page_id', models.CharField(help_text="Facebook's id of the Page.", max_length=32)),
                        ('mid', models.CharField(help_text="message.mid, postback.mid, or a referral's key.", max_length=255)),
                        ('processed_at', models.DateTimeField(default=django.utils.timezone.now)),
                        ('delivery', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to='messenger.webhookdelivery')),
                    ],
                    options={
                        'db_table': 'flows_processedmessage',
                        'constraints': [models.UniqueConstraint(fields=('page_id', 'mid'), name='processedmessage_unique_mid')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
