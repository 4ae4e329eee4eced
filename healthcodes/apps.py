from django.apps import AppConfig


class HealthcodesConfig(AppConfig):
    name = "healthcodes"
    default_auto_field = "django.db.models.BigAutoField"
