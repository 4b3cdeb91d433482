from __future__ import annotations

from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.utils.translation import gettext, ngettext

CONTEXT_WORDS = ("gonghui", "union", "工会", "portal", "meituan", "eleme", "shunfeng")


class MinimumLengthValidator(password_validation.MinimumLengthValidator):
    """Django's length check with its error text in our catalog. Django 5.2
    changed that msgid (`%(min_length)d` → `%d`) and its zh_Hans catalog has no
    translation of the new one, so workers were told in English."""

    def get_error_message(self) -> str:
        return ngettext(
            "密码太短,至少需要 %(min_length)d 个字符。",
            "密码太短,至少需要 %(min_length)d 个字符。",
            self.min_length,
        ) % {"min_length": self.min_length}


class ContextWordsValidator:
    """Block passwords built on words an attacker tries first here (AU1)."""

    def validate(self, password: str, user=None) -> None:
        lowered = password.lower()
        for word in CONTEXT_WORDS:
            if word in lowered and len(lowered) - len(word) < 8:
                raise ValidationError(
                    gettext("密码过于简单:不要以“工会”、平台名称等常见词为主。"),
                    code="password_context_word",
                )

    def get_help_text(self) -> str:
        return gettext("密码不要以“工会”、平台名称等常见词为主。")
