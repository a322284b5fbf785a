"""The OTA console: create_app() builds the Flask application."""
import os

from flask import Flask

from ota import config


def create_app(test_config: dict | None = None) -> Flask:
    """Create and configure the application; nothing runs at import."""
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    app.config.from_mapping(config.load(app.instance_path))
    if test_config:
        app.config.update(test_config)
    os.makedirs(app.config["STORAGE_DIR"], exist_ok=True)

    from ota import access, database, errors, i18n, web
    from ota.extensions import csrf, db, migrate, sock

    db.init_app(app)
    database.init_app(app)
    migrate.init_app(
        app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"),
        render_as_batch=True, compare_type=True,
    )
    csrf.init_app(app)
    sock.init_app(app)
    i18n.init_app(app)
    access.init_app(app)
    web.init_app(app)
    errors.init_app(app)

    from ota.blueprints import register_blueprints
    from ota.cli import register_cli

    register_blueprints(app)
    register_cli(app)
    return app
