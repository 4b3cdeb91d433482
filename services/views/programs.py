"""Worker journeys for protection programs: list, detail, "我能参加吗?", enroll,
"我的保障". Views validate, call one action or selector, render."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from members.selectors.people import member_get_for_user
from portal.exceptions import ApplicationError
from services.actions.programs import (
    WITHDRAW_NOT_ACTIVE,
    enrollment_create,
    enrollment_withdraw,
)
from services.forms.programs import SelfTestForm
from services.models import (
    COVERING_STATUSES,
    Enrollment,
    EnrollmentMode,
    EnrollmentStatus,
    add_months,
)
from services.selectors.eligibility import (
    EligibilityFacts,
    PlatformTenure,
    eligibility_reasons,
    programs_check,
    reason_display,
    rules_described,
)
from services.selectors.programs import (
    coverage_for_member,
    enrollment_history_for_member,
    program_get_public,
    programs_public,
)


def programs(request: HttpRequest) -> HttpResponse:
    return render(
        request, "services/programs/list.html", {"programs": programs_public()}
    )


def program_detail(request: HttpRequest, code: str) -> HttpResponse:
    program = program_get_public(code=code)
    if program is None:
        raise Http404
    today = timezone.localdate()
    member = member_get_for_user(user=request.user)
    reasons = covered = None
    enrollment = None
    if member is not None:
        reasons = eligibility_reasons(program=program, member=member, on=today)
        mine = [
            c
            for c in coverage_for_member(member=member, on=today)
            if c.program.pk == program.pk
        ]
        covered = bool(mine)
        # A named enrollment the worker may withdraw from (退出该计划).
        enrollment = next((c.enrollment for c in mine if c.enrollment), None)
    return render(
        request,
        "services/programs/detail.html",
        {
            "program": program,
            "rules": rules_described(program=program, on=today),
            "benefits": program.benefit_items.all(),
            "member": member,
            "reasons": reasons,
            "covered": covered,
            "enrollment": enrollment,
            "is_named": program.enrollment_mode == EnrollmentMode.NAMED,
        },
    )


def program_check(request: HttpRequest) -> HttpResponse:
    """ "我能参加吗?": a logged-in member is checked with their own data; anyone
    else answers three questions (GET, so the answer page can be shared)."""
    today = timezone.localdate()
    member = member_get_for_user(user=request.user)
    form = None
    verdicts = None
    if member is not None:
        verdicts = programs_check(member=member, on=today)
    else:
        form = SelfTestForm(request.GET or None)
        if form.is_valid():
            data = form.cleaned_data
            tenure = data["tenure_months"]
            facts = EligibilityFacts(
                occupation=data["occupation"],
                age=data["age"],
                platform_links=(
                    (PlatformTenure(joined_on=add_months(today, -tenure)),)
                    if tenure is not None
                    else ()
                ),
            )
            verdicts = programs_check(facts=facts, on=today)
    return render(
        request,
        "services/programs/check.html",
        {"member": member, "form": form, "verdicts": verdicts},
    )


@login_required
@require_POST
def program_enroll(request: HttpRequest, code: str) -> HttpResponse:
    program = program_get_public(code=code)
    if program is None:
        raise Http404
    member = member_get_for_user(user=request.user)
    if member is None:
        messages.error(request, _("请先完成入会登记,再报名参加保障计划。"))
        return redirect("services:program_detail", code=program.code)
    try:
        enrollment, created = enrollment_create(
            member=member, program=program, on=timezone.localdate(), actor=request.user
        )
    except ApplicationError as exc:
        if exc.code == "not_eligible":
            reasons = "; ".join(map(reason_display, exc.extra["reasons"]))
            message = _("暂不符合参加条件:%(reasons)s") % {"reasons": reasons}
        else:
            message = _(exc.message)
        messages.error(request, message)
        return redirect("services:program_detail", code=program.code)
    if created:
        messages.success(
            request,
            _("已参加%(name)s,保障期至%(end)s。")
            % {"name": program.name, "end": _cn_date(enrollment.period_end)},
        )
    else:
        messages.info(
            request, _("你已经参加了%(name)s,无需重复报名。") % {"name": program.name}
        )
    return redirect("services:my_coverage")


@login_required
def my_coverage(request: HttpRequest) -> HttpResponse:
    member = member_get_for_user(user=request.user)
    today = timezone.localdate()
    return render(
        request,
        "services/programs/mine.html",
        {
            "member": member,
            "coverage": coverage_for_member(member=member, on=today) if member else [],
            "history": enrollment_history_for_member(member=member) if member else [],
        },
    )


@login_required
def enrollment_withdraw_view(request: HttpRequest, enrollment_id: int) -> HttpResponse:
    """退出保障计划: GET shows the confirmation step, POST (CSRF) withdraws.
    Only the owner's enrollments exist here (another worker's id → 404). A
    second submit, or an enrollment no longer active, redirects with a message;
    the action's conditional UPDATE makes the withdrawal happen once."""
    member = member_get_for_user(user=request.user)
    if member is None:
        raise Http404
    enrollment = get_object_or_404(
        Enrollment.objects.select_related("program"), pk=enrollment_id, member=member
    )
    if request.method == "POST":
        try:
            enrollment_withdraw(
                member=member, enrollment_id=enrollment.pk, actor=request.user
            )
        except ApplicationError as exc:
            enrollment.refresh_from_db()
            if enrollment.status == EnrollmentStatus.WITHDRAWN:
                messages.info(
                    request,
                    _("你已退出%(name)s。") % {"name": enrollment.program.name},
                )
            else:
                messages.error(request, _(exc.message))
            return redirect("services:my_coverage")
        messages.success(
            request, _("已退出%(name)s。") % {"name": enrollment.program.name}
        )
        return redirect("services:my_coverage")
    if enrollment.status not in COVERING_STATUSES:
        if enrollment.status == EnrollmentStatus.WITHDRAWN:
            messages.info(
                request, _("你已退出%(name)s。") % {"name": enrollment.program.name}
            )
        else:
            messages.error(request, _(WITHDRAW_NOT_ACTIVE))
        return redirect("services:my_coverage")
    return render(
        request,
        "services/programs/withdraw.html",
        {"enrollment": enrollment, "program": enrollment.program},
    )


def _cn_date(day) -> str:
    return f"{day.year}年{day.month}月{day.day}日"
