"""Residents sign in on their phone: mobile number, then the one-time code sent to it
(healthnet/phone_signin.py does the work; the API's /auth/phone/* is the same for apps).

Two steps on one page and one URL, working without JavaScript: the number (→ a code is sent if
it is on a record; the answer is the same either way), then the code (→ signed in, to the page
asked for or the resident's landing page). A staff login keeps its password at /accounts/login/.
"""

from __future__ import annotations

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from healthnet.errors import DomainError
from healthnet.phone_signin import phone_signin_code_request, phone_signin_verify
from healthnet.phones import mobile_masked, mobile_normalized_or_none
from portal.pages.resident import elder_mode

SEND, VERIFY = "send", "verify"


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return "/"


@never_cache
@csrf_protect
def phone_login(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated and request.method != "POST":
        return redirect(_next_url(request))
    next_url = _next_url(request)
    context: dict[str, object] = {
        "elder_mode": elder_mode(request),
        "next": next_url,
        "step": SEND,
        "phone": "",
        "error": "",
        "notice": "",
    }
    if request.method == "POST":
        phone = request.POST.get("phone", "")[:32]
        context["phone"] = phone
        try:
            if request.POST.get("action") == VERIFY:
                context["step"] = VERIFY
                user = phone_signin_verify(phone=phone, code=request.POST.get("code", "")[:12])
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return redirect(next_url)
            sent = phone_signin_code_request(phone=phone)
            context["step"] = VERIFY
            context["notice"] = _(
                "如果 %(phone)s 已在居民档案中登记，验证码已发送，%(minutes)s 分钟内有效。"
            ) % {"phone": mobile_masked(phone), "minutes": sent.expires_in // 60}
        except DomainError as error:
            context["error"] = error.message
            context["step"] = SEND if error.code == "phone_invalid" else VERIFY
        context["phone_normal"] = mobile_normalized_or_none(phone) or ""
    return render(request, "portal/resident/phone_login.html", context)
