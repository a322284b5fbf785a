"""Forms of the auth blueprint."""
from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import InputRequired, Length

from ota.forms import BaseForm


class LoginForm(BaseForm):
    """Username and password."""

    username = StringField(_l("Username"), validators=[InputRequired(_l("Enter your username.")), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[InputRequired(_l("Enter your password."))])
    remember = BooleanField(_l("Keep me signed in"))
