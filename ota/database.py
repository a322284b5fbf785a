"""Database engine settings that SQLAlchemy does not apply by itself."""
from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from ota.extensions import db


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """Turn on WAL, a busy timeout and foreign keys for every SQLite connection."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=15000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")  # safe with WAL; a commit need not fsync
    cur.close()


def init_app(app: Flask) -> None:
    """Attach the SQLite pragmas when the app uses SQLite."""
    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        return
    with app.app_context():
        engine: Engine = db.engine
        if not getattr(engine, "_ota_pragmas", False):
            event.listen(engine, "connect", _sqlite_pragmas)
            engine._ota_pragmas = True
