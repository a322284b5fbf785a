"""The console's form base class: every text field refuses control and invisible formatting characters."""
import unicodedata

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField, TextAreaField
from wtforms.validators import StopValidation

# What a textarea may hold besides printable text: line breaks, tabs, and the zero-width joiner
# that emoji sequences are built from.
_TEXTAREA_ALLOWED = frozenset("\t\n\r\u200d")


def bad_character(value: str | None, multiline: bool = False) -> str | None:
    """Return the first control (Cc) or format (Cf: zero-width, bidi override) character in value, else None.

    NUL fails the whole transaction on PostgreSQL; the others are invisible, so a name that
    holds them looks like another name (or like nothing at all) wherever it is shown.
    """
    for ch in value or "":
        if unicodedata.category(ch) in ("Cc", "Cf") and not (multiline and ch in _TEXTAREA_ALLOWED):
            return ch
    return None


def describe_character(ch: str) -> str:
    """Return "U+200B (ZERO WIDTH SPACE)" for a character a person cannot see."""
    name = unicodedata.name(ch, "")
    return f"U+{ord(ch):04X}" + (f" ({name})" if name else "")


class _Printable:
    """Stop a text field's validation at an unprintable character, with the character named."""

    def __init__(self, multiline: bool):
        self.multiline = multiline

    def __call__(self, form, field):
        ch = bad_character(field.data if isinstance(field.data, str) else None, self.multiline)
        if ch is not None:
            raise StopValidation(_l("Remove the invisible or control character %(char)s from this field.",
                                    char=describe_character(ch)))


class BaseForm(FlaskForm):
    """FlaskForm whose text fields (not passwords or hidden ones) first refuse unprintable characters.

    Hidden fields are checked by the code that reads them (tokens), and a password is only
    hashed, never stored or shown.
    """

    class Meta:
        def bind_field(self, form, unbound_field, options):
            field = super().bind_field(form, unbound_field, options)
            if isinstance(field, StringField) and not isinstance(field, (PasswordField, HiddenField)):
                # First in the chain, so no other validator (or a database query) sees the value.
                field.validators = [_Printable(isinstance(field, TextAreaField)), *field.validators]
            return field
