"""Teams with their load, and the package catalogue: no resident data."""

from typing import Annotated

from ninja import Query, Router
from ninja.pagination import paginate
from ninja.params.functions import Path as PathEx

from config.pagination import PageNumberPagination
from healthnet.selectors import district_by_code
from signing import permissions, selectors
from signing.api.schemas import PackageOut, TeamDetailOut, TeamFilter, TeamOut
from signing.api.scope import forbid

router = Router(tags=["signing"])


@router.get("/teams", response=list[TeamOut])
@paginate(PageNumberPagination)
def team_list(request, filters: Query[TeamFilter]):
    """Teams with their load (signed ÷ capacity); no resident data."""
    if not permissions.can_list_teams(request.user):
        forbid()
    if filters.district:
        district_by_code(filters.district)  # 422 district_unknown
    return selectors.teams_visible_to(
        request.user, institution=filters.institution, district=filters.district
    )


@router.get("/teams/{code}", response=TeamDetailOut)
def team_detail(request, code: Annotated[str, PathEx(min_length=1, max_length=32)]):
    """A team with its members and 履约率; 404 for a team out of the caller's scope."""
    if not permissions.can_list_teams(request.user):
        forbid()
    return selectors.team_detail(request.user, code=code)


@router.get("/packages", response=list[PackageOut])
def package_list(request):
    """The service package catalogue (no personal data)."""
    if not request.user.is_authenticated:
        forbid()
    return list(selectors.packages_catalogue())
