from django.apps import AppConfig


class HealthnetConfig(AppConfig):
    name = "healthnet"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from healthnet import receivers  # noqa: F401 (connects the signal receivers)
