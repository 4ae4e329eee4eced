"""The API's error format for answers that never reach an API handler.

Django and ninja answer some requests themselves, in HTML or plain text: a path no route matches
(an unknown endpoint, or an id that is not a UUID), a method the route does not take, a Host
not allowed, and, with DEBUG off, any 400/403/404/500 page. Under /api/ every such answer is
rewritten here into the one format (config/api.py), keeping its status, its headers (Allow,
Retry-After, WWW-Authenticate) and its cookies:

    {"code": "machine_readable", "message": "中文 (English)", "details": {"request_id": ...}}

The portal keeps Django's pages.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

API_PREFIX = "/api/"

# Status → (code, message) for errors raised outside our handlers. Domain errors carry their
# own codes (healthnet.errors); these are the framework's.
CODE_OF_HTTP_STATUS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "请求无效 (bad request)"),
    401: ("not_authenticated", "需要登录或有效的令牌 (authentication required)"),
    403: ("forbidden", "无权执行此操作 (not allowed)"),
    404: ("not_found", "资源不存在 (not found)"),
    405: ("method_not_allowed", "不支持此方法 (method not allowed)"),
    413: ("request_too_large", "请求体过大 (request body too large)"),
    429: ("rate_limited", "请求过于频繁 (too many requests)"),
    500: ("server_error", "服务器内部错误，请稍后重试 (internal server error)"),
    502: ("service_unavailable", "服务暂不可用，请稍后重试 (service unavailable)"),
    503: ("service_unavailable", "服务暂不可用，请稍后重试 (service unavailable)"),
    504: ("service_unavailable", "服务暂不可用，请稍后重试 (service unavailable)"),
}


def code_and_message(status: int) -> tuple[str, str]:
    if status in CODE_OF_HTTP_STATUS:
        return CODE_OF_HTTP_STATUS[status]
    if status >= 500:
        return CODE_OF_HTTP_STATUS[500]
    return ("http_error", f"请求失败 (HTTP {status})")


def _is_json(response: HttpResponse) -> bool:
    return response.get("Content-Type", "").split(";")[0].strip() == "application/json"


class ApiErrorMiddleware:
    """Sits inside RequestIdMiddleware and outside everything that may answer an error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path_info.startswith(API_PREFIX)
            or getattr(response, "streaming", False)
            or _is_json(response)
        ):
            return response
        code, message = code_and_message(response.status_code)
        body = {
            "code": code,
            "message": message,
            "details": {"request_id": getattr(request, "request_id", "")},
        }
        rewritten = HttpResponse(
            json.dumps(body, ensure_ascii=False),
            status=response.status_code,
            content_type="application/json; charset=utf-8",
        )
        for header in ("Allow", "Retry-After", "WWW-Authenticate", "Cache-Control", "Vary"):
            if response.has_header(header):
                rewritten[header] = response[header]
        rewritten.cookies = response.cookies  # e.g. the session cookie cleared by an idle logout
        return rewritten
