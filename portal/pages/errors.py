"""A portal view calls the same services as the API; their domain errors become the portal's
own answers here: 404 and 403 pages (the friendly templates), never a 500."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from healthnet.errors import Forbidden, NotFound


def domain_errors_as_http(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """NotFound → the 404 page (a record out of scope answers as if it did not exist),
    Forbidden → the 403 page."""

    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound as error:
            raise Http404(error.code) from None
        except Forbidden as error:
            raise PermissionDenied(error.code) from None

    return wrapped
