"""Portal sign-in. The pages behind it are in portal/pages/ (landing and 工作台 first)."""

from __future__ import annotations

from django.contrib.auth import views as auth_views

from portal.forms import ThrottledAuthenticationForm


class LoginView(auth_views.LoginView):
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True
