from django.apps import AppConfig
from django.db.models.signals import post_migrate


class HealthcodesConfig(AppConfig):
    name = "healthcodes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from healthcodes.keys import keys_publish_after_migrate
        from healthcodes.selectors import healthcard_current_of
        from healthnet.hooks import RESIDENT_CARD_CURRENT

        post_migrate.connect(
            keys_publish_after_migrate, sender=self, dispatch_uid="healthcodes.keys_publish"
        )

        # GET /api/v1/auth/me shows a resident their current card (healthnet cannot import us).
        if healthcard_current_of not in RESIDENT_CARD_CURRENT:
            RESIDENT_CARD_CURRENT.append(healthcard_current_of)
