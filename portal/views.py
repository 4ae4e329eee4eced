"""Portal sign-in. The pages behind it are in portal/pages/ (landing and 工作台 first)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse

from portal.forms import ThrottledAuthenticationForm


class LoginView(auth_views.LoginView):
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True


def session_keepalive(request: HttpRequest) -> HttpResponse:
    """'继续使用' on the idle warning: a request that counts as activity (204), or 401 when the
    session has ended already (the page then shows the login page)."""
    if not request.user.is_authenticated:
        return HttpResponse(status=401)
    return HttpResponse(status=204)
