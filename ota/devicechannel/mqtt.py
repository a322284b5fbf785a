"""MQTT connections from an MQTT_URL (mqtt://[user[:password]@]host[:port])."""
import uuid
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt


def parse_url(url: str) -> dict:
    """Split an MQTT_URL into host, port, username and password."""
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp", ""):
        raise ValueError(f"unsupported MQTT_URL scheme {parts.scheme!r} (use mqtt://host:port)")
    return {
        "host": parts.hostname or "127.0.0.1",
        "port": parts.port or 1883,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }


def client(url: str, client_id: str | None = None, clean_session: bool = True) -> mqtt.Client:
    """Return a paho client configured for url (not yet connected); MQTT 3.1.1."""
    cfg = parse_url(url)
    c = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,
        client_id=client_id or f"ota-{uuid.uuid4().hex[:12]}",
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
    )
    if cfg["username"]:
        c.username_pw_set(cfg["username"], cfg["password"])
    c.reconnect_delay_set(min_delay=1, max_delay=10)
    c._ota_cfg = cfg  # host/port for connect()
    return c


def connect(c: mqtt.Client, keepalive: int = 30) -> None:
    """Connect a client made by client() to its broker (blocking until the TCP connect is done)."""
    cfg = c._ota_cfg
    c.connect(cfg["host"], cfg["port"], keepalive=keepalive)
