"""The upgrade form (固件升级): one form for both batch methods; only the chosen method's fields are checked."""
from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from flask_wtf.file import FileField
from wtforms import BooleanField, HiddenField, IntegerField, RadioField, SelectMultipleField
from wtforms.validators import Optional, StopValidation

from ota.forms import BaseForm
from ota.models import UpgradeTask
from ota.services import picker, tasks


class UpgradeForm(BaseForm):
    """Target devices by source version (all or picked devices) or by a CSV of DeviceNames, plus options."""

    method = RadioField(_l("Batch upgrade method"), default=UpgradeTask.METHOD_VERSION, choices=[
        (UpgradeTask.METHOD_VERSION, _l("By firmware version")), (UpgradeTask.METHOD_NAMES, _l("By device name"))])
    source_versions = SelectMultipleField(_l("Versions to upgrade"), choices=[], validate_choice=False)
    scope = RadioField(_l("Upgrade scope"), default=UpgradeTask.SCOPE_ALL, validate_choice=False, choices=[
        (UpgradeTask.SCOPE_ALL, _l("All devices")), (UpgradeTask.SCOPE_SELECTED, _l("Specified devices"))])
    picker = HiddenField()
    submission = HiddenField()  # one-time token: a repeated post goes to the task the first saved
    csv_file = FileField(_l("Device list"))
    timeout = IntegerField(_l("Timeout per device (seconds)"), default=tasks.TIMEOUT_DEFAULT, validators=[Optional()])
    push_rate = IntegerField(_l("Push rate (devices per minute)"), validators=[Optional()])
    override = BooleanField(_l("Override: take devices out of their other unfinished tasks"))

    def __init__(self, firmware, account_id: int, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.firmware, self.account_id = firmware, account_id
        self.source_versions.choices = [(v, v) for v in tasks.source_versions(firmware)]
        self.device_ids: list[int] = []
        self.duplicates: list[tuple[str, int]] = []
        self.csv_problems: list = []  # csvnames.Problem of the uploaded CSV, in line order

    @property
    def by_version(self) -> bool:
        return self.method.data != UpgradeTask.METHOD_NAMES

    def validate_source_versions(self, field):
        if not self.by_version:
            return
        if not field.data:
            raise StopValidation(_l("Choose at least one version to upgrade from."))
        if set(field.data) - {v for v, _ in field.choices}:
            raise StopValidation(_l("Choose versions from the list."))

    def validate_scope(self, field):
        if not self.by_version:
            return
        if field.data not in (UpgradeTask.SCOPE_ALL, UpgradeTask.SCOPE_SELECTED):
            raise StopValidation(_l("Choose the upgrade scope."))
        if field.data == UpgradeTask.SCOPE_SELECTED:
            self.device_ids = picker.chosen(self.account_id, self.picker.data)
            if not self.device_ids:
                raise StopValidation(_l("Choose at least one device (选择设备)."))

    def validate_csv_file(self, field):
        if self.by_version:
            return
        upload = field.data
        if not upload or not getattr(upload, "filename", ""):
            raise StopValidation(_l("Choose a CSV file of DeviceNames."))
        if not upload.filename.lower().endswith(".csv"):
            raise StopValidation(_l("Only .csv files are accepted (download the template)."))
        check = tasks.check_csv(self.firmware, upload.read(), current_app.config["CSV_MAX_DEVICES"])
        if check.errors:
            self.csv_problems = check.problems  # listed under the field, line by line (_csv_macros.html)
            raise StopValidation(lazy_ngettext(
                "%(num)s problem in the file; no task was saved. Fix it and upload the file again.",
                "%(num)s problems in the file; no task was saved. Fix them and upload the file again.",
                len(check.errors)))
        self.device_ids, self.duplicates, self.csv_problems = check.device_ids, check.duplicates, check.problems

    def validate_timeout(self, field):
        if field.data is None or not tasks.TIMEOUT_MIN <= field.data <= tasks.TIMEOUT_MAX:
            raise StopValidation(tasks.validate_options(field.data, None)["timeout"][0])

    def validate_push_rate(self, field):
        errors = tasks.validate_options(tasks.TIMEOUT_DEFAULT, field.data)
        if errors:
            raise StopValidation(errors["push_rate"][0])
