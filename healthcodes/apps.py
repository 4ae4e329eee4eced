from django.apps import AppConfig
from django.db.models.signals import post_migrate


class HealthcodesConfig(AppConfig):
    name = "healthcodes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from healthcodes.keys import keys_publish_after_migrate

        post_migrate.connect(
            keys_publish_after_migrate, sender=self, dispatch_uid="healthcodes.keys_publish"
        )
