from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext, gettext_noop

# settings.SITE_NAME is Chinese (the source language); mark the default for
# `make messages` so the English catalog carries its translation.
gettext_noop("工会会员服务门户")


def site(request: HttpRequest) -> dict:
    return {"SITE_NAME": gettext(settings.SITE_NAME)}
