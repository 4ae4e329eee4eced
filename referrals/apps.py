from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "双向转诊 (two-way referrals)"

    def ready(self) -> None:
        from healthnet.selectors import RESIDENT_RELATION_CHECKS
        from referrals.selectors import resident_concerns_institution
        from referrals.services import followup_recorded
        from signing.hooks import FOLLOWUP_RECORDED

        # Staff of an institution may read a resident referred into or out of it (docs/design.md
        # §9).
        if resident_concerns_institution not in RESIDENT_RELATION_CHECKS:
            RESIDENT_RELATION_CHECKS.append(resident_concerns_institution)
        # The family-doctor team's first follow-up after a downward referral closes its loop
        # (docs/design.md §4); signing calls these hooks inside the follow-up's transaction.
        if followup_recorded not in FOLLOWUP_RECORDED:
            FOLLOWUP_RECORDED.append(followup_recorded)
