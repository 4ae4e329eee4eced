from django.apps import AppConfig


class HealthnetConfig(AppConfig):
    name = "healthnet"
    default_auto_field = "django.db.models.BigAutoField"
