"""Portal session login: Chinese by default, English beside it, throttled like the API."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from healthnet.models import AuditEvent
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctor():
    return UserFactory(username="dr-wang")


def login(client, password="healthnet-demo"):
    return client.post("/accounts/login/", {"username": "dr-wang", "password": password})


def test_login_page_is_chinese_by_default():
    response = Client().get("/accounts/login/")

    assert response.status_code == 200
    page = response.content.decode()
    assert re.search(r'<html lang="zh-hans"[ >]', page)
    assert "登录" in page
    assert "English" in page  # the switch to the other language


def test_login_page_in_english_when_asked():
    response = Client(headers={"accept-language": "en"}).get("/accounts/login/")

    page = response.content.decode()
    assert re.search(r'<html lang="en"[ >]', page)
    assert "Log in" in page
    assert "Password" in page


def test_home_needs_a_login_and_greets_after_it(doctor):
    client = Client()
    assert client.get("/").url.startswith("/accounts/login/")

    response = login(client)

    assert response.status_code == 302
    home = client.get("/", follow=True)
    assert home.redirect_chain == [("/workbench/", 302)]
    assert "dr-wang" in home.content.decode()


def test_wrong_password_shows_an_error_and_repeated_failures_are_throttled(doctor, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    client = Client()

    first = login(client, password="wrong")
    assert first.status_code == 200
    assert "用户名或密码错误" in first.content.decode()
    login(client, password="wrong")

    throttled = login(client)  # the right password, but too late
    assert "登录失败次数过多" in throttled.content.decode()
    assert client.get("/").status_code == 302
    assert AuditEvent.objects.filter(action="login_failed").count() == 2


def test_logout_is_a_post(doctor):
    client = Client()
    login(client)

    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/").status_code == 302
