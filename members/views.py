from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from members.forms import LoginForm
from members.selectors.people import member_get_for_user


class LoginView(auth_views.LoginView):
    template_name = "members/login.html"
    authentication_form = LoginForm
    redirect_authenticated_user = True


def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "members/privacy.html")


@login_required
def me(request: HttpRequest) -> HttpResponse:
    member = member_get_for_user(user=request.user)
    return render(request, "members/me.html", {"member": member})
