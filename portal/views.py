"""Portal pages. The full staff and resident portal comes with its own issue; for now: login,
logout, and a home page that says who you are and where the API is."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from portal.forms import ThrottledAuthenticationForm


class LoginView(auth_views.LoginView):
    authentication_form = ThrottledAuthenticationForm
    redirect_authenticated_user = True


@login_required
def home(request):
    return render(request, "portal/home.html", {"user": request.user})
