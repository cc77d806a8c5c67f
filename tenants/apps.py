from django.apps import AppConfig


class TenantsConfig(AppConfig):
    name = "tenants"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_out

        from tenants.signals import forget_page_tokens_at_sign_out

        user_logged_out.connect(forget_page_tokens_at_sign_out, dispatch_uid="forget_page_tokens")
