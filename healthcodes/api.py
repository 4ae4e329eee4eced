"""API of the healthcodes app (filled in by its issue)."""

from ninja import Router

router = Router(tags=["healthcodes"])
