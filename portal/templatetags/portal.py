"""Template tags of the portal's layout: the navigation menu built from portal.menu.PAGES."""

from __future__ import annotations

import re

from django import template

from portal.menu import menu_for

register = template.Library()


@register.inclusion_tag("portal/includes/nav.html", takes_context=True)
def portal_nav(context: template.Context) -> dict[str, object]:
    """The signed-in user's menu, the current page marked (aria-current)."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"items": []}
    current = getattr(getattr(request, "portal_page", None), "name", None)
    return {"items": menu_for(user, current=current)}


_CJK = re.compile(r"[\u3400-\u9fff]")


@register.filter
def display_name(user: object) -> str:
    """A person's name as they write it: family name first and no space in Chinese (王建华),
    "given family" otherwise; the username when no name is recorded."""
    first = getattr(user, "first_name", "") or ""
    last = getattr(user, "last_name", "") or ""
    if _CJK.search(first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip() or getattr(user, "username", "")
