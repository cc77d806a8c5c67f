from django.apps import AppConfig


class EventsConfig(AppConfig):
    name = "events"

    def ready(self) -> None:
        from django.core import checks

        from events.checks import check_graph_versions
        from events.delivery import on_page_active
        from events.transport_status import transport_status
        from tenants import transports
        from tenants.signals import page_active

        page_active.connect(on_page_active, dispatch_uid="events.delivery.on_page_active")
        # tenants asks about transports through its hooks; the answer lives beside the catalog.
        transports.register_status_provider(transport_status)
        checks.register(check_graph_versions, checks.Tags.compatibility)
