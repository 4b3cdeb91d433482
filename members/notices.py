"""Texts a person consents to. The version recorded with a consent is the SHA-256
of the exact text shown, so changing a word asks everyone again (PIPL art. 14)."""

from __future__ import annotations

import hashlib

SENSITIVE_PI_JOIN_NOTICE = (
    "为办理入会、核验身份和发放电子会员证,工会需要处理你的身份证号码(敏感个人信息)"
    "和手机号码。身份证号码加密保存,仅审核人员在审核时看到部分号码;"
    "查看完整号码须经授权并留痕。信息保存至你退会后依法规定的期限届满。"
    "不同意将无法在线入会,但不影响你使用驿站查询等其他服务。你可以在“我的”页面随时撤回同意。"
)


def notice_version(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


SENSITIVE_PI_JOIN_NOTICE_VERSION = notice_version(SENSITIVE_PI_JOIN_NOTICE)
