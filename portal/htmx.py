"""What the portal's htmx requests tell the server about themselves.

A region that refreshes itself (hx-trigger="every …") sends POLL_HEADER: such a request is the
page's own doing, not a person's, so an idle-logout timer must not count it as activity (or an
open 工作台 would keep a shared clinic PC signed in forever). A person's click on "刷新" inside
the same region overrides the header with "0".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from healthnet.http import SignedInRequest
from healthnet.middleware import BACKGROUND_POLL_HEADER, is_background_request

if TYPE_CHECKING:
    from portal.menu import Page

# The header's name, for templates and tests (one definition, in healthnet.middleware, which
# stops a background request from counting as a person's activity).
POLL_HEADER = BACKGROUND_POLL_HEADER


class PortalRequest(SignedInRequest):
    """What a page view receives (for annotations, see healthnet.http): a signed-in user,
    django-htmx's `request.htmx` (HtmxMiddleware runs on every request) and the page that
    `page_view` let the user into."""

    htmx: HtmxDetails
    portal_page: Page


def is_background_poll(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true" and is_background_request(request)
