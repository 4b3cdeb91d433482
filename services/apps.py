from django.apps import AppConfig


class ServicesConfig(AppConfig):
    """Member services: protection programs, platform enrollment batches, rest
    stations, and next relief-fund applications and 12351 work orders."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "services"
    verbose_name = "会员服务"

    def ready(self) -> None:
        from services.actions import retention
        from services.notification_templates import register

        register()
        retention.register()
