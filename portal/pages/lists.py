"""What the list pages of the team, record and import pages share: filters read with the API's own
filter schema, pagination that never fails on a hostile `page`, a 404 for what is out of scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, QueryDict
from ninja import Schema
from pydantic import ValidationError

from healthnet.errors import NotFound

PAGE_SIZE = 25
S = TypeVar("S", bound=Schema)


def filters_from(schema: type[S], query: QueryDict, names: tuple[str, ...]) -> tuple[S, list[str]]:
    """The query's filters read by the API's schema for them; a value the schema refuses is
    dropped (the list shows without it) and its name returned, so the page can say so."""
    given = {name: query.get(name) for name in names if query.get(name) not in (None, "")}
    dropped: list[str] = []
    while True:
        try:
            return schema.model_validate(given), dropped
        except ValidationError as exc:
            bad = {str(problem["loc"][0]) for problem in exc.errors() if problem["loc"]}
            if not bad & given.keys():
                raise
            for name in bad & given.keys():
                given.pop(name)
                dropped.append(name)


def page_of(request: HttpRequest, queryset: QuerySet | list[Any], size: int = PAGE_SIZE) -> Page:
    """The requested page: a `page` that is no number, or past the end (however large), gives
    the last page or the first, never an error (issue 9 item 6)."""
    number = request.GET.get("page", "1")
    if not number.isdigit() or len(number) > 9:
        number = "1"
    return Paginator(queryset, size).get_page(number)


def query_without_page(request: HttpRequest) -> str:
    """The current filters as a query string for the pagination links."""
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@contextmanager
def not_found_as_404() -> Iterator[None]:
    """A selector's NotFound (missing or out of scope: the same answer) as the portal's 404."""
    try:
        yield
    except NotFound as exc:
        raise Http404(exc.message) from None


def found(selector: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    with not_found_as_404():
        return selector(*args, **kwargs)
