from django.apps import AppConfig


class ReferralsConfig(AppConfig):
    name = "referrals"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = "双向转诊 (two-way referrals)"

    def ready(self) -> None:
        # The family-doctor team's first follow-up after a downward referral closes its loop
        # (DESIGN §4). The signing app calls its FOLLOWUP_RECORDED hooks inside the follow-up's
        # transaction; while that app has no hooks module, nothing is wired.
        try:
            from signing import hooks
        except ImportError:
            return
        from referrals.services import followup_recorded

        registry = getattr(hooks, "FOLLOWUP_RECORDED", None)
        if registry is not None and followup_recorded not in registry:
            registry.append(followup_recorded)
