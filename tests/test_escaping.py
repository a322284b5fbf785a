"""Translated messages that carry user data are escaped like any other string (no XSS through _l())."""
import io

import pytest
from flask import render_template_string
from flask_babel import lazy_gettext as _l

from ota.services import csvnames, tasks
from tests.fixtures_catalog import HX, product, upload  # noqa: F401
from tests.task_fixtures import add_devices, world  # noqa: F401

EVIL = "<img src=x onerror=alert(1)>"
ESCAPED = "&lt;img src=x onerror=alert(1)&gt;"


def test_a_lazy_string_with_markup_args_is_escaped_in_a_template(app):
    with app.test_request_context():
        out = render_template_string("{{ m }}|{{ [m][0] }}", m=_l("Line %(line)s: %(v)s", line=1, v=EVIL))
    assert EVIL not in out and out.count(ESCAPED) == 2


@pytest.mark.parametrize("message", [
    lambda: csvnames.describe_error(csvnames.INVALID_NAME, EVIL),
    lambda: csvnames.describe_error(csvnames.DUPLICATE, EVIL),
    lambda: csvnames.describe_line(3, csvnames.INVALID_NAME, EVIL),
])
def test_csv_messages_escape_the_value(app, message):
    with app.test_request_context():
        out = render_template_string("{{ m }}", m=message())
    assert EVIL not in out and ESCAPED in out


def test_device_import_escapes_a_bad_cell(auth_client, product):
    r = upload(auth_client, product.id, f"DeviceName\n{EVIL}\n".encode())
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and EVIL not in body and ESCAPED in body


def test_upgrade_by_name_escapes_a_bad_cell(auth_client, world):
    r = auth_client.post(f"/firmware/{world.fw.id}/upgrade", content_type="multipart/form-data",
                         data={"method": "names", "csv_file": (io.BytesIO(f"DeviceName\n{EVIL}\n".encode()), "d.csv")})
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and EVIL not in body and ESCAPED in body


def test_upgrade_by_name_escapes_a_stored_product_name(auth_client, world, make_product):
    other = make_product(world.account_id, EVIL)
    add_devices(other, 1, "1.0.0", prefix="baby")
    with auth_client.application.test_request_context():
        check = tasks.check_csv(world.fw, b"baby_00000\n", 10)
        assert EVIL not in render_template_string("{{ m }}", m=check.errors[0])
    r = auth_client.post(f"/firmware/{world.fw.id}/upgrade", content_type="multipart/form-data",
                         data={"method": "names", "csv_file": (io.BytesIO(b"baby_00000\n"), "d.csv")})
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and EVIL not in body and ESCAPED in body
