"""Forms of the devices blueprint; the rules themselves live in the services."""
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from flask_wtf.file import FileField
from wtforms import StringField, ValidationError

from ota.forms import BaseForm
from ota.services import csvnames, devices, products


class ProductForm(BaseForm):
    """A product's name (create and rename)."""

    name = StringField(_l("Product name"), render_kw={"maxlength": products.NAME_MAX})

    def validate_name(self, field):
        try:
            field.data = products.clean_name(field.data)
        except products.ProductNameError as e:
            raise ValidationError(str(e))


class DeviceForm(BaseForm):
    """One DeviceName, unique within the form's product."""

    name = StringField(_l("DeviceName"), render_kw={"maxlength": 48, "autocomplete": "off"})

    def __init__(self, product_id: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.product_id = product_id

    def validate_name(self, field):
        try:
            field.data = devices.check_name(field.data)
        except devices.DeviceError as e:
            raise ValidationError(str(e))
        if devices.name_taken(self.product_id, field.data):
            raise ValidationError(_l("The product already has a device named “%(name)s”.", name=field.data))


class ImportForm(BaseForm):
    """A CSV file of DeviceNames; parsed into `self.result` by validate_file."""

    file = FileField(_l("CSV file"), render_kw={"accept": ".csv,.txt,text/csv"})
    result: csvnames.CsvResult | None = None

    def validate_file(self, field):
        upload = field.data
        if not upload or not getattr(upload, "filename", ""):
            raise ValidationError(_l("Choose a CSV file."))
        # Read one byte past the limit: enough to know it is too large, never the whole of a huge file.
        data = upload.stream.read(csvnames.MAX_BYTES + 1)
        self.result = csvnames.read_device_names(data)
        if self.result.file_error:
            code, value = next((c, v) for line, c, v in self.result.errors if line == 0)
            raise ValidationError(csvnames.describe_error(code, value))
        if self.result.errors:
            raise ValidationError(lazy_ngettext(
                "%(num)s line has an error; nothing was imported. Fix it and upload the file again.",
                "%(num)s lines have errors; nothing was imported. Fix them and upload the file again.",
                len(self.result.errors)))
