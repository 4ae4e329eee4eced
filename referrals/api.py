"""API of the referrals app (filled in by its issue)."""

from ninja import Router

router = Router(tags=["referrals"])
