"""The notice template registry: template code -> Chinese title and text.

Chinese SMS gateways send only pre-approved templates, so a notification carries a
template code plus parameters (never raw personal data). A production backend sends
`sms_template_id` + params; development backends get the rendered text.

Adding a template: append a `NoticeTemplate` to `TEMPLATES` below (members-owned
notices), or call `register_template(NoticeTemplate(...))` from your app's
`AppConfig.ready()` (services must not be imported by members). A test scans the code
for `template_code="..."` literals and fails on codes that are not registered.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cached_property


class TemplateError(Exception):
    """Unknown template or missing parameter: a permanent error (dead letter)."""


@dataclass(frozen=True)
class NoticeTemplate:
    code: str
    title: str  # inbox heading and e-mail subject
    text: str  # str.format placeholders, e.g. "您有{count}份入会申请待审核"
    sms_template_id: str = ""  # the gateway's approved template id, if any

    @cached_property
    def param_names(self) -> frozenset[str]:
        formatter = string.Formatter()
        return frozenset(
            name
            for source in (self.title, self.text)
            for _, name, _, _ in formatter.parse(source)
            if name
        )


TEMPLATES: list[NoticeTemplate] = [
    # One-time codes (members.actions.accounts.otp_send), sent directly, never
    # through the outbox; listed so a template gateway has an id for them.
    NoticeTemplate(
        code="otp_code",
        title="验证码",
        text="您的验证码是{code},5分钟内有效。请勿告诉他人。",
    ),
    NoticeTemplate(
        code="reminder_applications_waiting",
        title="入会申请待审核提醒",
        text="您所在工会有{count}份入会申请已等待超过{days}个工作日,请及时审核。",
    ),
    NoticeTemplate(
        code="reminder_personal_data_requests",
        title="个人信息请求待处理提醒",
        text="有{count}项会员个人信息查询/删除请求已超过{days}天未处理,请及时处理。",
    ),
    # Joining (入会) and personal-data requests, enqueued by members.actions.
    NoticeTemplate(
        code="membership_application_received",
        title="入会申请已提交",
        text="您的入会申请(编号{application_id})已提交至{org_name},审核结果会通知您。",
    ),
    NoticeTemplate(
        code="membership_approved",
        title="入会申请已通过",
        text="欢迎加入{org_name}!您的会员证号为{member_no},入会日期{joined_on}。"
        "登录门户可查看电子会员证。",
    ),
    NoticeTemplate(
        code="membership_rejected",
        title="入会申请未通过",
        text="您提交至{org_name}的入会申请(编号{application_id})未通过,原因:{reason}。"
        "您可以修改后重新提交。",
    ),
    NoticeTemplate(
        code="membership_application_review_overdue",
        title="入会申请待审核提醒",
        text="{org_name}的入会申请(编号{application_id})于{submitted_on}提交,"
        "已等待{waiting_workdays}个工作日,请及时审核。",
    ),
    NoticeTemplate(
        code="data_request_received",
        title="个人信息请求已受理",
        text="您的个人信息请求(编号{request_id},类型{kind})已受理,我们将在规定时间内处理。",
    ),
    NoticeTemplate(
        code="data_request_processed",
        title="个人信息请求已处理",
        text="您的个人信息请求(编号{request_id},类型{kind})处理结果:{status}。{response}",
    ),
    NoticeTemplate(
        code="data_request_overdue",
        title="个人信息请求待处理提醒",
        text="会员个人信息请求(编号{request_id},类型{kind})自{opened_on}起已{open_days}天"
        "未处理,请及时处理。",
    ),
    # Account security (members.actions.account_security): sent to the account
    # after its password or phone changed, so an owner who did not do it can react.
    NoticeTemplate(
        code="account_password_changed",
        title="账号密码已修改",
        text="您的工会会员服务账号密码已于{when}修改,其他设备上的登录已退出。"
        "如非本人操作,请立即通过“忘记密码”重置,并拨打12351。",
    ),
    NoticeTemplate(
        code="account_phone_changed",
        title="绑定手机号已更换",
        text="您的工会会员服务账号绑定手机号已于{when}更换为{new}。"
        "如非本人操作,请立即拨打12351或联系所在工会。",
    ),
    NoticeTemplate(
        code="notice_generic",
        title="{title}",
        text="{body}",
    ),
    NoticeTemplate(
        code="legal_notice_provision",
        title="个人信息处理告知",
        text="{platform}已向{union}提供您的个人信息,用于办理入会及会员服务。"
        "如有异议,请登录门户或拨打12351。",
    ),
]

_REGISTRY: dict[str, NoticeTemplate] = {}


def register_template(template: NoticeTemplate) -> None:
    existing = _REGISTRY.get(template.code)
    if existing is not None and existing != template:
        raise TemplateError(f"template {template.code!r} registered twice")
    _REGISTRY[template.code] = template


for _template in TEMPLATES:
    register_template(_template)


def get_template(code: str) -> NoticeTemplate:
    try:
        return _REGISTRY[code]
    except KeyError:
        raise TemplateError(f"unknown template {code!r}") from None


def registered_codes() -> set[str]:
    return set(_REGISTRY)


def render(code: str, params: dict) -> tuple[str, str]:
    """Return (title, text) for a template; TemplateError if it cannot render."""
    template = get_template(code)
    missing = template.param_names - set(params)
    if missing:
        raise TemplateError(f"template {code!r} misses params {sorted(missing)}")
    values = {key: str(value) for key, value in params.items()}
    return template.title.format_map(values), template.text.format_map(values)
