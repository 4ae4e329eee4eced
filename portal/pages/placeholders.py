"""Pages whose URL and rule exist before their content does: the counters and menus link to
them already, and each answers 403 to a role that may not use it, like the finished page will.
Each is replaced by its real view in its own issue (the URL name stays)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from portal.menu import PAGE_BY_NAME, View, page_view

# What each page will do, shown on its placeholder.
PURPOSES = {
    "referrals-incoming": _(
        "转入本机构的转诊：按截止时间排序，超时在前，可按状态、紧急程度、方向、科室、居民筛选。"
    ),
    "referrals-outgoing": _("本机构转出的转诊及其进度。"),
    "referral-new": _("查找居民（身份证号或扫码），选择方向、目标机构与科室，填写转诊原因。"),
    "scan-station": _("扫描居民健康码：挂号、就诊、取药、健康管理。"),
    "team-contracts": _("本团队签约居民：重点人群、即将到期、随访逾期。"),
    "team-followups": _("待完成的随访，逾期在前，可直接记录结果。"),
    "contract-import": _("上传签约文件（CSV/XLSX），查看进度并下载错误报告。"),
    "system-home": _("系统管理：用户、机构与密钥请使用管理后台和 API。"),
}


def placeholder(name: str) -> View:
    page = PAGE_BY_NAME[name]

    @page_view(name)
    def view(request: HttpRequest) -> HttpResponse:
        filters = [(key, value) for key, values in request.GET.lists() for value in values]
        return render(
            request,
            "portal/placeholder.html",
            {"page": page, "purpose": PURPOSES[name], "filters": filters},
        )

    view.__name__ = f"placeholder_{name.replace('-', '_')}"
    return view
