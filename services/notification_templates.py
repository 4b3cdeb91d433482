"""Notice templates owned by member services, registered with the members outbox
registry at startup (members must not import services)."""

from __future__ import annotations

from members.notification_templates import NoticeTemplate, register_template

TEMPLATES = [
    # PIPL art. 23: the union's own notice to a rider a platform provided.
    NoticeTemplate(
        code="platform_rider_notice",
        title="工会个人信息处理告知",
        text="{platform}已将您的姓名、身份证号、手机号和从业信息提供给深圳市总工会,"
        "用于为您办理{program}等免费保障。您可登录工会会员服务门户查看、更正或申请删除,"
        "也可拨打12351提出异议。",
    ),
    NoticeTemplate(
        code="programs.enrolled",
        title="已参加{program_name}",
        text="您已参加{program_name},保障期{period_start}至{period_end}。"
        "登录门户“我的保障”可查看详情。",
    ),
    NoticeTemplate(
        code="programs.enrollment_withdrawn",
        title="已退出{program_name}",
        text="您已退出{program_name},保障随即结束。符合条件时可在门户重新报名。",
    ),
    # PIPL art. 24: the nightly check's "no" only starts a staff review.
    NoticeTemplate(
        code="programs.enrollment_under_review",
        title="保障计划待人工复核",
        text="自动核查发现您可能不再符合保障计划的参加条件:{findings}。"
        "工作人员将人工复核,复核期间保障继续有效。您可在门户“我的保障”查看,"
        "并可要求说明自动判断的理由,或拨打12351咨询。",
    ),
    NoticeTemplate(
        code="programs.enrollment_lapsed_reviewed",
        title="{program_name}已失效",
        text="经工作人员复核,您参加的{program_name}因不再符合参加条件已失效,"
        "原因可在门户“我的保障”查看;如有疑问可拨打12351。",
    ),
    NoticeTemplate(
        code="programs.enrollment_restored",
        title="{program_name}保障已恢复",
        text="经工作人员复核,您参加的{program_name}继续有效。",
    ),
    # No longer enqueued (the nightly check used to lapse directly); kept so
    # notices already waiting in the outbox still render.
    NoticeTemplate(
        code="programs.enrollment_lapsed",
        title="保障计划已失效",
        text="您参加的保障计划因不再符合参加条件已失效,原因可在门户“我的保障”查看;"
        "如有疑问可申请人工复核或拨打12351。",
    ),
    NoticeTemplate(
        code="programs.coverage_ending",
        title="{program_name}即将到期",
        text="您的{program_name}保障将于{period_end}到期(还有{days_before}天),"
        "仍符合条件的会员将自动续保。",
    ),
    # The program ends with this period (or no longer runs): nothing renews.
    NoticeTemplate(
        code="programs.coverage_ending_final",
        title="{program_name}即将到期",
        text="您的{program_name}保障将于{period_end}到期(还有{days_before}天)。"
        "本计划到期后不再续保;如有疑问可拨打12351咨询。",
    ),
    # The same reminder for a cover under review (PIPL art. 24): it is not
    # renewed while staff review it, and the worker should know why.
    NoticeTemplate(
        code="programs.coverage_ending_under_review",
        title="{program_name}即将到期(待人工复核)",
        text="您的{program_name}保障将于{period_end}到期(还有{days_before}天)。"
        "自动核查发现您可能不再符合参加条件,工作人员正在人工复核,复核期间保障继续有效;"
        "复核恢复保障的,将自动续保。您可在门户“我的保障”查看原因,"
        "并可要求说明自动判断的理由,或拨打12351咨询。",
    ),
]


def register() -> None:
    for template in TEMPLATES:
        register_template(template)
