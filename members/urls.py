from django.contrib.auth import views as auth_views
from django.urls import path

from members import views, views_account, views_notifications, views_worker_mfa

app_name = "members"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("login/verify/", views_worker_mfa.login_verify, name="login_verify"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("register/", views.register, name="register"),
    path("password/forgot/", views_account.password_forgot, name="password_forgot"),
    path("join/", views.join, name="join"),
    path("me/", views.me, name="me"),
    path("me/verify/", views_worker_mfa.step_up, name="step_up"),
    path("me/card/", views.card, name="card"),
    path("me/password/", views_account.password_change, name="password_change"),
    path("me/phone/", views_account.phone_change, name="phone_change"),
    path("me/export/", views.export, name="export"),
    path("me/requests/", views.data_request, name="data_request"),
    path(
        "me/consents/<int:consent_id>/withdraw/",
        views.consent_withdraw_view,
        name="consent_withdraw",
    ),
    path("privacy/", views.privacy, name="privacy"),
    path("messages/", views_notifications.messages_list, name="messages"),
    path(
        "messages/<int:notification_id>/read/",
        views_notifications.message_mark_read,
        name="message_read",
    ),
    path(
        "messages/read-all/",
        views_notifications.messages_mark_all_read,
        name="messages_read_all",
    ),
    path(
        "messages/reminders/",
        views_notifications.reminders_preference,
        name="reminders_preference",
    ),
]
