from __future__ import annotations

from django.core.exceptions import ValidationError

CONTEXT_WORDS = ("gonghui", "union", "工会", "portal", "meituan", "eleme", "shunfeng")


class ContextWordsValidator:
    """Block passwords built on words an attacker tries first here (AU1)."""

    def validate(self, password: str, user=None) -> None:
        lowered = password.lower()
        for word in CONTEXT_WORDS:
            if word in lowered and len(lowered) - len(word) < 8:
                raise ValidationError(
                    "密码过于简单:不要以“工会”、平台名称等常见词为主。",
                    code="password_context_word",
                )

    def get_help_text(self) -> str:
        return "密码不要以“工会”、平台名称等常见词为主。"
