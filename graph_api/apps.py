from django.apps import AppConfig


class GraphApiConfig(AppConfig):
    name = "graph_api"
