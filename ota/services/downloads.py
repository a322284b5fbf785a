"""Signed, expiring firmware-download URLs bound to one firmware and one device."""
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_SALT = "ota-firmware-download"


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_SALT)


def make_token(firmware_id: int, device_id: int) -> str:
    """Return a token for firmware_id and device_id (URL-safe, no "/")."""
    return _serializer().dumps([firmware_id, device_id])


def read_token(token: str) -> tuple[int, int] | None:
    """Return (firmware_id, device_id) of a valid, unexpired token, else None."""
    try:
        fw, dev = _serializer().loads(token, max_age=current_app.config["DOWNLOAD_TOKEN_TTL"])
        return int(fw), int(dev)
    except (BadSignature, SignatureExpired, ValueError, TypeError):
        return None


def download_url(firmware_id: int, device_id: int) -> str:
    """Return the URL a device downloads from: one path segment (the SDK's Host header needs it)."""
    return f"{current_app.config['PUBLIC_BASE_URL']}/fw_{make_token(firmware_id, device_id)}.bin"
