from django.urls import path

from insights import views

app_name = "insights"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("overview/ads.csv", views.ads_csv, name="ads_csv"),
    path("overview/leads.csv", views.leads_csv, name="leads_csv"),
    path("ads/", views.ad_accounts, name="ad_accounts"),
    path("ads/connect/", views.ads_connect, name="ads_connect"),
    path("ads/<int:account_pk>/read/", views.ad_account_read_now, name="ad_account_read"),
]
