from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"

    def ready(self) -> None:
        from events.delivery import on_page_active
        from tenants.signals import page_active

        page_active.connect(on_page_active, dispatch_uid="events.delivery.on_page_active")
