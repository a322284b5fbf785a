"""The skeleton: login everywhere, CSRF, languages, migrations, catalogs."""
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from ota.extensions import db
from tests.conftest import ROOT, login


def test_every_page_needs_login(client):
    r = client.get("/firmware")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_htmx_request_without_login_gets_hx_redirect(client):
    r = client.get("/firmware", headers={"HX-Request": "true"})
    assert r.status_code == 401 and "/login" in r.headers["HX-Redirect"]


def test_login_with_wrong_password_is_refused_at_the_field(client, user):
    r = client.post("/login", data={"username": "alice", "password": "wrong-password"})
    assert r.status_code == 422
    assert "用户名或密码错误" in r.get_data(as_text=True)


def test_login_then_pages_open(client, user):
    login(client)
    assert client.get("/firmware").status_code == 200


@pytest.mark.parametrize("target,expected", [
    ("/products", "/products"),
    ("//evil.example/x", "/firmware"),
    ("https://evil.example/", "/firmware"),
])
def test_login_redirects_only_within_the_site(client, user, target, expected):
    r = client.post(f"/login?next={target}", data={"username": "alice", "password": "correct-horse"})
    assert r.headers["Location"] == expected


def test_post_without_csrf_token_is_refused(client, user):
    client.csrf = False
    r = client.post("/login", data={"username": "alice", "password": "correct-horse"})
    assert r.status_code == 400
    assert "表单已失效" in r.get_data(as_text=True)


def test_session_cookie_is_httponly_and_samesite(client, user):
    r = client.post("/login", data={"username": "alice", "password": "correct-horse"})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_language_switch(auth_client):
    assert "固件升级" in auth_client.get("/firmware").get_data(as_text=True)
    r = auth_client.post("/lang/en", data={"next": "/firmware"})
    assert r.status_code == 303 and r.headers["Location"] == "/firmware"
    page = auth_client.get("/firmware").get_data(as_text=True)
    assert "Firmware upgrade" in page and 'lang="en"' in page
    auth_client.post("/lang/zh", data={"next": "/firmware"})
    assert 'lang="zh-CN"' in auth_client.get("/firmware").get_data(as_text=True)


def test_unknown_page_is_404_in_the_layout(auth_client):
    r = auth_client.get("/no-such-page")
    assert r.status_code == 404 and "未找到" in r.get_data(as_text=True)


def test_pages_vary_on_hx_request(auth_client):
    assert "HX-Request" in auth_client.get("/firmware").headers["Vary"]


def test_migrations_build_exactly_the_models(app):
    """The schema exists only through migrations: upgrading an empty database gives the models."""
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), db.metadata)
    assert diff == []


def test_every_string_has_a_chinese_translation():
    r = subprocess.run([sys.executable, "scripts/i18n_sync.py", "--check"], cwd=ROOT,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout
