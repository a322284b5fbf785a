"""Every problem line of an uploaded CSV is listed in line order with its number, in both CSV pages."""
import io
import re

from ota.models import UpgradeTask
from ota.services import csvnames, devices
from tests.fixtures_catalog import device_names, product, upload  # noqa: F401
from tests.task_fixtures import add_devices, world  # noqa: F401

# Line 1 header, 3 cam002 (first), 6 an invalid name, 7 cam002 again.
MIXED = b"DeviceName\ncam001\ncam002\ncam003\ncam004\nbad name\ncam002\n"


def items(body: str) -> list[str]:
    """Return the text of the listed problems, in page order."""
    return [re.sub(r"<[^>]+>", "", li) for li in re.findall(r'<li class="csv-(?:error|repeat)">(.*?)</li>', body)]


def english(client):
    client.post("/lang/en", data={"next": "/firmware"})


def test_problems_sort_errors_and_repeats_by_line(app):
    result = csvnames.read_device_names(b"a\nb\na\nbad name\nb\n")
    found = csvnames.problems(result)
    assert [(p.line, p.repeat) for p in found] == [(3, True), (4, False), (5, True)]
    assert str(found[0].message) == "第 3 行：“a” 与第 1 行重复，已忽略"


def test_import_lists_the_error_and_the_repeat_in_line_order(auth_client, product):
    r = upload(auth_client, product.id, MIXED)
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and device_names(product.id) == []
    assert items(body) == ["第 6 行：“bad name”不是有效的设备名称：只能包含 1–48 个字母、数字或字符 _ - . : @",
                           "第 7 行：“cam002” 与第 3 行重复，已忽略"]
    assert "1 行存在错误" in body and "1 个重复行已忽略" in body


def test_import_lists_the_problems_in_english(auth_client, product):
    english(auth_client)
    body = upload(auth_client, product.id, MIXED).get_data(as_text=True)
    assert items(body)[1] == "Line 7: “cam002” repeats line 3; ignored"
    assert "1 line has an error; nothing was imported. Fix it and upload the file again." in body
    assert "1 line has an error" in body and "1 repeated line is ignored" in body
    assert "1 lines" not in body
    body = upload(auth_client, product.id, b"bad name\nbad name2\n").get_data(as_text=True)
    assert "2 lines have errors; nothing was imported." in body


def test_import_with_only_repeats_names_each_in_the_flash(auth_client, product):
    devices.add_device(product, "dup01")
    devices.add_device(product, "dup02")
    r = upload(auth_client, product.id, b"dup01\ndup02\nnew1\nnew1\n")
    assert r.status_code == 200 and device_names(product.id) == ["dup01", "dup02", "new1"]
    page = auth_client.get(f"/products/{product.id}").get_data(as_text=True)
    assert "已导入 1 个设备。" in page and "2 个已存在，已跳过：dup01, dup02。" in page
    assert "已忽略 1 个重复行：\n第 4 行：“new1” 与第 3 行重复，已忽略" in page


def test_import_flash_in_english_has_separators_and_plurals(auth_client, product):
    english(auth_client)
    devices.add_device(product, "dup01")
    devices.add_device(product, "dup02")
    upload(auth_client, product.id, b"dup01\ndup02\nnew1\nnew1\n")
    page = auth_client.get(f"/products/{product.id}").get_data(as_text=True)
    assert ("1 device imported. 2 already existed and were skipped: dup01, dup02. 1 repeated line was ignored:\n"
            "Line 4: “new1” repeats line 3; ignored") in page


def post_csv(client, fw_id, data: bytes):
    return client.post(f"/firmware/{fw_id}/upgrade", content_type="multipart/form-data",
                       data={"method": "names", "csv_file": (io.BytesIO(data), "devices.csv")})


def test_upgrade_csv_lists_problems_in_line_order_with_repeats_and_a_count(auth_client, world):
    add_devices(world.product, 3, "1.0.0")  # dev_00000..dev_00002
    data = b"DeviceName\ndev_00000\ndev_00001\nbad name\nnobody\ndev_00000\n"
    r = post_csv(auth_client, world.fw.id, data)
    body = r.get_data(as_text=True)
    assert r.status_code == 422 and UpgradeTask.query.count() == 0
    listed = items(body)
    assert [int(re.match(r"第 (\d+) 行", t).group(1)) for t in listed] == [4, 5, 6]
    assert listed[1] == "第 5 行：本产品下没有名为“nobody”的设备。"
    assert listed[2] == "第 6 行：“dev_00000” 与第 2 行重复，已忽略"
    assert "文件中有 2 处问题，未保存任务" in body and "2 行存在错误" in body and "1 个重复行已忽略" in body


def test_upgrade_csv_problems_in_english(auth_client, world):
    english(auth_client)
    add_devices(world.product, 1, "1.0.0")
    body = post_csv(auth_client, world.fw.id, b"nobody\ndev_00000\ndev_00000\n").get_data(as_text=True)
    assert items(body) == ["Line 1: no device named “nobody” in this product.",
                           "Line 3: “dev_00000” repeats line 2; ignored"]
    assert "1 problem in the file; no task was saved. Fix it and upload the file again." in body
