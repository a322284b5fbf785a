"""Accounts and users."""
import secrets

from ota.extensions import db
from ota.models import Account, User


class UserExists(ValueError):
    """The username is taken."""


def create_user(username: str, password: str, account_name: str | None = None,
                account_id: int | None = None) -> User:
    """Create a user, in an existing account or in a new one named account_name (or the username)."""
    username = username.strip()
    if not username or len(username) > 64:
        raise ValueError("username must be 1-64 characters")
    if len(password) < 8:
        raise ValueError("password must be at least 8 characters")
    if db.session.execute(db.select(User.id).filter_by(username=username)).first():
        raise UserExists(username)
    if account_id is None:
        account = Account(name=account_name or username)
        db.session.add(account)
        db.session.flush()
        account_id = account.id
    user = User(username=username, account_id=account_id)
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def ensure_first_admin() -> tuple[str, str] | None:
    """Create user "admin" with a random password when there is no user yet; return the credentials."""
    if db.session.execute(db.select(User.id).limit(1)).first():
        return None
    password = secrets.token_urlsafe(12)
    create_user("admin", password, account_name="Default")
    return "admin", password
