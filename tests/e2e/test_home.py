import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_opens_the_home_page_on_a_phone(phone_page, live_server):
    phone_page.goto(live_server.url + "/")

    assert phone_page.locator("html").get_attribute("lang") == "zh-Hans"
    phone_page.get_by_role("heading", name="工会会员服务门户").wait_for()
    assert phone_page.get_by_text("附近驿站").count() >= 1
    # No horizontal scrolling on a 390 px wide phone.
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390


def test_language_switch_shows_english_and_back(phone_page, live_server):
    phone_page.goto(live_server.url + "/")

    with phone_page.expect_navigation():
        phone_page.locator("#lang-select").select_option("en")

    assert phone_page.locator("html").get_attribute("lang") == "en"

    with phone_page.expect_navigation():
        phone_page.locator("#lang-select").select_option("zh-hans")

    assert phone_page.locator("html").get_attribute("lang") == "zh-Hans"
