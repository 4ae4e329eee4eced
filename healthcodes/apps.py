from django.apps import AppConfig


class HealthcodesConfig(AppConfig):
    name = "healthcodes"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from healthcodes.selectors import healthcard_current_of
        from healthnet.hooks import RESIDENT_CARD_CURRENT

        # GET /api/v1/auth/me shows a resident their current card (healthnet cannot import us).
        if healthcard_current_of not in RESIDENT_CARD_CURRENT:
            RESIDENT_CARD_CURRENT.append(healthcard_current_of)
