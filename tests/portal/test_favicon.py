"""Browsers get an icon: /favicon.ico at the root and a link in every page
head, the admin's included (no 404 per page view)."""

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_served_at_the_root(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert b"".join(response.streaming_content)[:4] == b"\x00\x00\x01\x00"


@pytest.mark.parametrize("url", ["/", "/login/", "/admin/login/"])
def test_pages_link_the_icon(client, url):
    page = client.get(url).content.decode()

    assert '<link rel="icon" href="/favicon.ico"' in page
    assert 'type="image/svg+xml"' in page
    assert finders.find("img/favicon.svg")
