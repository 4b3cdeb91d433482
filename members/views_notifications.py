"""站内信 (the inbox) and the reminder opt-out, for every signed-in user."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from members.actions.notifications import (
    member_set_reminders_opt_out,
    notification_mark_read,
    notifications_mark_all_read,
)
from members.notification_templates import TemplateError
from members.notification_templates import render as render_notice
from members.selectors.notifications import inbox_for
from members.selectors.people import member_get_for_user

PAGE_SIZE = 20


@login_required
def messages_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(inbox_for(user=request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    items = []
    for row in page.object_list:
        try:
            title, text = render_notice(row.template_code, row.params)
        except TemplateError:
            title, text = _("系统通知"), _("该消息暂时无法显示。")
        items.append({"row": row, "title": title, "text": text})
    return render(
        request,
        "members/messages.html",
        {
            "page": page,
            "items": items,
            "member": member_get_for_user(user=request.user),
        },
    )


@login_required
@require_POST
def message_mark_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    if not notification_mark_read(user=request.user, notification_id=notification_id):
        raise Http404
    return redirect(_back(request))


@login_required
@require_POST
def messages_mark_all_read(request: HttpRequest) -> HttpResponse:
    notifications_mark_all_read(user=request.user)
    return redirect("members:messages")


@login_required
@require_POST
def reminders_preference(request: HttpRequest) -> HttpResponse:
    member = member_get_for_user(user=request.user)
    if member is None:
        raise Http404
    wants = request.POST.get("receive_reminders") == "on"
    member_set_reminders_opt_out(member=member, opt_out=not wants)
    messages.success(
        request,
        _("已开启提醒短信。") if wants else _("已关闭提醒短信,法定告知仍会发送。"),
    )
    return redirect("members:messages")


def _back(request: HttpRequest) -> str:
    page = request.POST.get("page", "")
    base = "/messages/"
    return f"{base}?page={int(page)}" if page.isdigit() else base
