"""Configuration, read from the environment in one place."""
import json
import os
import secrets
from pathlib import Path

MiB = 1024 * 1024


def _secret_key(instance: Path) -> str:
    """Return SECRET_KEY from the environment, else one generated once and kept under instance/."""
    if os.environ.get("SECRET_KEY"):
        return os.environ["SECRET_KEY"]
    path = instance / "secret_key"
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(secrets.token_hex(32))
        os.replace(tmp, path)  # atomic: two processes starting at once agree on one key
    return path.read_text().strip()


def _runtime(instance: Path) -> dict:
    """Return the URLs of the embedded services the launcher started, if it did."""
    try:
        return json.loads((instance / "runtime.json").read_text())
    except (OSError, ValueError):
        return {}


def database_url(raw: str) -> str:
    """Normalise a DATABASE_URL so plain postgres:// URLs use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if raw.startswith(prefix):
            return "postgresql+psycopg://" + raw[len(prefix):]
    return raw


def load(instance_path: str) -> dict:
    """Build the app config from the environment, with embedded defaults for a fresh machine."""
    instance = Path(instance_path)
    runtime = _runtime(instance)
    env = os.environ.get
    return {
        "SECRET_KEY": _secret_key(instance),
        "SQLALCHEMY_DATABASE_URI": database_url(
            env("DATABASE_URL") or f"sqlite:///{instance / 'ota.db'}"
        ),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "REDIS_URL": env("REDIS_URL") or runtime.get("REDIS_URL") or "redis://127.0.0.1:6379/0",
        "MQTT_URL": env("MQTT_URL") or runtime.get("MQTT_URL") or "mqtt://127.0.0.1:1883",
        # Gateways share the report load through $share/<group>/... where the broker delivers "$"
        # topics that way (EMQX); Mosquitto 2.0.11 does not, so empty = a plain subscription.
        "MQTT_SHARED_GROUP": env("MQTT_SHARED_GROUP") or "",
        "STORAGE_DIR": env("STORAGE_DIR") or str(instance / "firmware"),
        "PUBLIC_BASE_URL": (env("PUBLIC_BASE_URL") or "http://127.0.0.1:5000").rstrip("/"),
        "RQ_QUEUE": env("RQ_QUEUE") or "ota",
        "DOWNLOAD_TOKEN_TTL": int(env("DOWNLOAD_TOKEN_TTL") or 24 * 3600),
        # The sweeper's period and when a creating task counts as abandoned (drills shorten both).
        "SWEEP_SECONDS": int(env("SWEEP_SECONDS") or 30),
        "SWEEP_STALE_SECONDS": int(env("SWEEP_STALE_SECONDS") or 120),
        # Console rules (DESIGN.md section 5).
        "FIRMWARE_MAX_BYTES": 1024 * MiB,
        "FIRMWARE_LIMIT": 100,
        "CSV_MAX_DEVICES": 10_000,
        # The multipart envelope of a 1024 MB file is a little larger than the file itself; the
        # exact file limit is enforced while streaming, this only stops absurd bodies.
        "MAX_CONTENT_LENGTH": 1024 * MiB + 4 * MiB,
        "MAX_FORM_MEMORY_SIZE": 1 * MiB,
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_DEFAULT_TIMEZONE": env("DISPLAY_TIMEZONE") or "Asia/Shanghai",
        "LANGUAGES": {"zh": "简体中文", "en": "English"},
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        # A dashboard stays open for hours; the token is tied to the session instead.
        "WTF_CSRF_TIME_LIMIT": None,
        "SOCK_SERVER_OPTIONS": {"ping_interval": 25},
    }
