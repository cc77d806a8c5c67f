from django.apps import AppConfig


class FlowsConfig(AppConfig):
    name = "flows"

    def ready(self) -> None:
        from flows.transport_move import switch_check
        from tenants import transports

        # Every transport switch (Pages screen, pages API, the move) asks this first.
        transports.register_switch_check("flows.published_flows", switch_check)
