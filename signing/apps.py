from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "signing"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "家庭医生签约 (family-doctor signing)"

    def ready(self) -> None:
        from healthnet.selectors import RESIDENT_RELATION_CHECKS
        from signing.selectors import resident_concerns_institution

        # Staff of an institution may read a resident signed with one of its teams (docs/design.md
        # §9).
        if resident_concerns_institution not in RESIDENT_RELATION_CHECKS:
            RESIDENT_RELATION_CHECKS.append(resident_concerns_institution)
