from django.apps import AppConfig


class SigningConfig(AppConfig):
    name = "signing"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "家庭医生签约 (family-doctor signing)"

    def ready(self) -> None:
        from healthnet.hooks import RESIDENT_LEFT
        from healthnet.selectors import RESIDENT_RELATION_CHECKS
        from signing.selectors import resident_concerns_institution
        from signing.services import contracts_end_for_departure

        # Staff of an institution may read a resident signed with one of its teams (docs/design.md
        # §9).
        if resident_concerns_institution not in RESIDENT_RELATION_CHECKS:
            RESIDENT_RELATION_CHECKS.append(resident_concerns_institution)
        # A death or a move away from the city ends the resident's contracts (healthnet.register).
        if contracts_end_for_departure not in RESIDENT_LEFT:
            RESIDENT_LEFT.append(contracts_end_for_departure)
