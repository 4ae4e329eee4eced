"""The portal's login form: Django's, with the same throttled check as the API's token login."""

from __future__ import annotations

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from healthnet.errors import NotAuthenticated, RateLimited
from healthnet.services import user_authenticate


class ThrottledAuthenticationForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": _("用户名或密码错误。"),
        "throttled": _("登录失败次数过多，请 %(seconds)s 秒后再试。"),
    }

    def clean(self):
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = user_authenticate(
                    username=username, password=password, request=self.request
                )
            except RateLimited as refused:
                raise forms.ValidationError(
                    self.error_messages["throttled"],
                    code="throttled",
                    params={"seconds": refused.details.get("retry_after_seconds", 1)},
                ) from None
            except NotAuthenticated:
                raise self.get_invalid_login_error() from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data
