"""API of family-doctor signing (/api/v1/): teams and packages, contracts with their lifecycle
actions and import, follow-ups. One output style: handlers return model objects, the schemas
(signing/api/schemas.py) read them. Scope: signing/permissions.py; a record out of the caller's
scope answers 404 exactly like a missing one (signing/api/scope.py)."""

from ninja import Router

from signing.api import contracts, followups, imports, teams

router = Router()
router.add_router("", teams.router)
router.add_router("", imports.router)
router.add_router("", contracts.router)
router.add_router("", followups.router)
