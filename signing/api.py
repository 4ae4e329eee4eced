"""API of the signing app (filled in by its issue)."""

from ninja import Router

router = Router(tags=["signing"])
