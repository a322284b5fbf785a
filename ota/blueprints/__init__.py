"""Blueprints, one package per domain."""
from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Register every domain blueprint."""
    from ota.blueprints.auth import bp as auth_bp
    from ota.blueprints.devices import bp as devices_bp
    from ota.blueprints.downloads import bp as downloads_bp
    from ota.blueprints.firmware import bp as firmware_bp
    from ota.blueprints.live import bp as live_bp
    from ota.blueprints.tasks import bp as tasks_bp

    for bp in (auth_bp, firmware_bp, devices_bp, tasks_bp, live_bp, downloads_bp):
        app.register_blueprint(bp)
