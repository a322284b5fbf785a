"""Forms of the firmware blueprint; every rule comes from ota.services.firmware."""
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import ValidationError

from ota.extensions import db
from ota.forms import BaseForm
from ota.models import Product
from ota.services import firmware as rules
from ota.services import uploads
from ota.web import bounded_int


def _check(message) -> None:
    if message:
        raise ValidationError(message)


class FirmwareInfoForm(BaseForm):
    """Name and description: what 编辑 changes."""

    name = StringField(_l("Firmware name"), filters=[rules.clean_text])
    description = TextAreaField(_l("Firmware description"), filters=[rules.clean_text])

    def validate_name(self, field):
        _check(rules.name_error(field.data))

    def validate_description(self, field):
        _check(rules.description_error(field.data))


class FirmwareForm(FirmwareInfoForm):
    """添加固件: name, product, version, file, description.

    `upload` describes the file when it is not part of this form (the JS path first sends the
    fields with the file's name and size, then the file itself as a raw body).
    """

    product = SelectField(_l("Product"), choices=[], validate_choice=False)
    version = StringField(_l("Firmware version"), filters=[rules.clean_text])
    file = FileField(_l("Firmware file"))

    def __init__(self, account_id: int, *args, upload=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.account_id = account_id
        self.upload = upload
        products = db.session.execute(
            db.select(Product).filter_by(account_id=account_id).order_by(Product.name, Product.id)
        ).scalars()
        self.product.choices = [("", _l("Choose a product"))] + [
            (str(p.id), f"{p.name} ({p.code})") for p in products]

    # Fields in the order the page shows them; WTForms validates in declaration order.
    @property
    def ordered(self):
        return [self.name, self.product, self.version, self.file, self.description]

    def product_id(self) -> int | None:
        """Return the chosen product's id when it is one of the account's products."""
        product = rules.account_product(self.account_id, bounded_int(self.product.data))
        return product.id if product else None

    def validate_product(self, field):
        if self.product_id() is None:
            raise ValidationError(_l("Choose one of your products."))

    def validate_version(self, field):
        _check(rules.version_error(field.data))
        product_id = self.product_id()
        if product_id is not None and rules.version_taken(product_id, field.data):
            raise ValidationError(rules.version_taken_message(field.data))

    def validate_file(self, field):
        upload = self.upload
        if upload is None and field.data:
            upload = field.data.stream  # the multipart fallback: a Receiver (StreamedUploadMixin)
            upload.filename = uploads.part_filename(field.data)  # its path kept, so clean_filename cuts it
        filename = rules.clean_filename(upload.filename if upload is not None else None)
        _check(rules.filename_error(filename))
        if upload.size is not None:
            _check(rules.size_error(upload.size))
        if upload.head is not None:
            _check(rules.signature_error(filename, upload.head))

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        limit = rules.limit_error(self.account_id)
        if limit:
            self.form_errors.append(limit)
        return ok and not limit
