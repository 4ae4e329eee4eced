"""The request type of a view that only a signed-in user reaches, for annotations.

Django types `request.user` as the user model or AnonymousUser. Behind the API's authentication
(every router but the token and phone sign-in endpoints) and behind the portal's `page_view`, it
is always our User: a view annotated with `SignedInRequest` says so once, and mypy then checks
what it does with the user (the alternative, a cast or an assert at each use, repeats the
guarantee everywhere). Django never builds one of these: it is the same HttpRequest object.
"""

from __future__ import annotations

from django.http import HttpRequest

from healthnet.models import User


class SignedInRequest(HttpRequest):
    user: User
