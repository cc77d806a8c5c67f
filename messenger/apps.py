from django.apps import AppConfig


class MessengerConfig(AppConfig):
    """The Messenger runtime: the webhook, deliveries, the turn loop, sending and handoffs."""

    name = "messenger"
