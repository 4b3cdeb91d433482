from django.apps import AppConfig


class ServicesConfig(AppConfig):
    """Member services: protection programs, platform enrollment batches, rest
    stations, and next relief-fund applications and 12351 work orders."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "services"
    verbose_name = "会员服务"

    def ready(self) -> None:
        from members.exports import register_export_section
        from services.actions import retention
        from services.notification_templates import register
        from services.selectors.programs import enrollments_export

        register()
        retention.register()
        register_export_section("enrollments", enrollments_export)
