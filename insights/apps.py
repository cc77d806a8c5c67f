from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = "Insights: the marketer's overview and Ads Manager's numbers"
