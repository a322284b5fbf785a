"""Control and invisible characters in text input: refused at the field (forms) or with a 400 (URLs), never stored."""
import re

import pytest
from flask_wtf import FlaskForm

from ota.extensions import db
from ota.forms import BaseForm, bad_character
from ota.models import Firmware, Product
from tests.conftest import login
from tests.firmware_fixtures import payload, product, upload_form, upload_raw  # noqa: F401
from tests.fixtures_catalog import HX
from tests.task_fixtures import world  # noqa: F401

BAD = {
    "nul": "a\x00b",
    "bell": "a\x07b",
    "newline": "a\nb",
    "zero_width_only": "\u200b\u200b",
    "rtl_override": "abc\u202egpj.exe",
    "bom": "\ufeffabc",
}


def field_error(body: str, field: str) -> str:
    """Return the text of a field's error block (the _macros.field wrapper), or ''."""
    m = re.search(rf'<div class="field has-error" id="field-{field}">(.*?)</div>\s*(?=<div class="field|<div class="upload|$)',
                  body, re.S)
    return m.group(1) if m else ""


def test_every_form_of_the_console_is_a_base_form(app):
    def all_subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from all_subclasses(sub)

    ours = [c for c in all_subclasses(FlaskForm) if c.__module__.startswith("ota.")]
    assert len(ours) >= 7
    assert [c.__name__ for c in ours if not issubclass(c, BaseForm)] == []


def test_bad_character_rule():
    assert bad_character("门铃固件 v1 (正式版)") is None
    assert bad_character("a\tb\nc\r\n👨\u200d👩", multiline=True) is None
    for value in BAD.values():
        assert bad_character(value) is not None
    assert bad_character("a\x00b", multiline=True) == "\x00" and bad_character("\u202e", multiline=True) == "\u202e"


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
def test_raw_upload_fields_are_refused_at_the_field_not_with_a_bare_400(app, auth_client, product, value):
    r = upload_raw(auth_client, product.id, payload("bin"), name=value)
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and 'id="firmware-form"' in body and "U+" in field_error(body, "name")
    r = upload_raw(auth_client, product.id, payload("bin"), description="ok " + value if value != "a\nb" else "a\x00")
    assert r.status_code == 422 and "U+" in field_error(r.get_data(as_text=True), "description")
    assert db.session.execute(db.select(db.func.count(Firmware.id))).scalar() == 0


@pytest.mark.parametrize("value", ["a\x00b", "a\u202eb"])
def test_multipart_upload_and_edit_refuse_them_at_the_field(app, auth_client, product, value):
    r = upload_form(auth_client, product.id, payload("bin"), description=value)
    assert r.status_code == 422 and "U+" in field_error(r.get_data(as_text=True), "description")
    r = auth_client.post("/firmware/new/check", data={"name": value, "product": str(product.id), "version": "1.0.0",
                                                      "filename": "a.bin", "size": "10"})
    assert r.status_code == 422 and "U+" in field_error(r.get_data(as_text=True), "name")
    assert upload_form(auth_client, product.id, payload("bin")).status_code == 303
    fw = db.session.execute(db.select(Firmware)).scalar_one()
    r = auth_client.post(f"/firmware/{fw.id}/edit", headers=HX, data={"name": "ok", "description": value})
    assert r.status_code == 422 and "U+" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Firmware, fw.id).description == ""


def test_a_description_keeps_its_line_breaks(app, auth_client, product):
    assert upload_form(auth_client, product.id, payload("bin"), description="第一行\r\n第二行\t完").status_code == 303
    assert db.session.execute(db.select(Firmware.description)).scalar_one() == "第一行\n第二行\t完"


@pytest.mark.parametrize("value", BAD.values(), ids=BAD.keys())
def test_product_names_refuse_them(app, auth_client, product, value):
    r = auth_client.post("/products", data={"name": value}, headers=HX)
    assert r.status_code == 422 and "U+" in r.get_data(as_text=True)
    r = auth_client.post(f"/products/{product.id}/name", data={"name": value}, headers=HX)
    assert r.status_code == 422 and "U+" in r.get_data(as_text=True)
    assert db.session.execute(db.select(Product.name)).scalars().all() == ["DoorCam"]


def test_login_with_a_nul_in_the_username_is_a_field_error(client, user):
    r = client.post("/login", data={"username": "alice\x00", "password": "correct-horse"})
    assert r.status_code == 422 and "U+0000" in field_error(r.get_data(as_text=True), "username")
    login(client)


@pytest.mark.parametrize("url", ["/firmware?q=%00", "/firmware?q=a%01", "/products/{p}?q=%00", "/products/{p}?version=%00",
                                 "/firmware/new?product=1%00", "/firmware?q%00=x"])
def test_control_characters_in_the_query_string_are_a_400_with_a_message(auth_client, product, url):
    r = auth_client.get(url.format(p=product.id))
    assert r.status_code == 400 and "NUL" in r.get_data(as_text=True)
    r = auth_client.get(url.format(p=product.id), headers=HX)
    assert r.status_code == 400 and "NUL" in r.get_data(as_text=True) and "<html" not in r.get_data(as_text=True)


def test_a_search_for_ordinary_text_still_works(auth_client, product):
    assert auth_client.get(f"/products/{product.id}?q=%E9%97%A8%E9%93%83+cam").status_code == 200


def test_a_csv_filename_with_a_nul_is_stored_printable(auth_client, world):
    import io

    from ota.models import UpgradeTask
    from tests.task_fixtures import add_devices

    add_devices(world.product, 1, "1.0.0")
    r = auth_client.post(f"/firmware/{world.fw.id}/upgrade", content_type="multipart/form-data",
                         data={"method": "names", "csv_file": (io.BytesIO(b"dev_00000\n"), "gr\x00ay\u202e.csv")})
    assert r.status_code == 303
    assert db.session.execute(db.select(UpgradeTask.csv_filename)).scalar_one() == "gray.csv"
