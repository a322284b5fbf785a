"""In Debian's Chromium: CSV problems by line, the version-bound device picker, confirmations and in-place edits."""
import pytest

from ota.models import UpgradeStatus, UpgradeTask
from ota.services import devices as device_service
from tests.live_fixtures import live_server  # noqa: F401  (fixture)
from tests.task_fixtures import add_devices, records, run_jobs, world  # noqa: F401
from tests.test_browser_live import browser_page, sign_in  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Line 1 header, 3 cam002 (first), 6 an invalid name, 7 cam002 again.
MIXED = b"DeviceName\ncam001\ncam002\ncam003\ncam004\nbad name\ncam002\n"


def settled(page) -> None:
    """Wait until htmx has settled every swap (it binds a new element's triggers only then, ~20 ms later)."""
    page.wait_for_function("!document.querySelector('.htmx-added, .htmx-settling, .htmx-request, .htmx-swapping')")


def switch_language(page, lang: str) -> None:
    page.click("header .lang-switch button")
    page.wait_for_selector(f"html[lang={lang}]")


def test_import_lists_every_problem_line(browser_page, live_server, world, artifacts, tmp_path):
    page = browser_page
    device_service.add_device(world.product, "cam001")
    csv = tmp_path / "devices.csv"
    csv.write_bytes(MIXED)
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server}/products/{world.product.id}")
    page.set_input_files("#device-import input[type=file]", str(csv))
    page.click("#device-import button[type=submit]")
    page.wait_for_selector("#device-import .csv-problems")
    items = page.locator("#device-import .csv-errors li").all_inner_texts()
    assert items[0].startswith("第 6 行：") and items[1] == "第 7 行：“cam002” 与第 3 行重复，已忽略"
    page.locator("#device-import").screenshot(path=str(artifacts / "import-problems-zh.png"))
    page.screenshot(path=str(artifacts / "import-problems-page-zh.png"), full_page=True)

    switch_language(page, "en")
    page.set_input_files("#device-import input[type=file]", str(csv))
    page.click("#device-import button[type=submit]")
    page.wait_for_selector("#device-import .csv-problems")
    assert page.locator("#device-import .csv-errors li").all_inner_texts()[1] == "Line 7: “cam002” repeats line 3; ignored"
    assert "1 line has an error; nothing was imported." in page.inner_text("#device-import")
    page.locator("#device-import").screenshot(path=str(artifacts / "import-problems-en.png"))

    # Only a repeat: imported, and the flash names the line.
    csv.write_bytes(b"cam001\ncam010\ncam010\n")
    page.set_input_files("#device-import input[type=file]", str(csv))
    page.click("#device-import button[type=submit]")
    page.wait_for_selector(".flash-success")
    flash = page.inner_text(".flash-success")
    assert "1 device imported. 1 already existed and was skipped: cam001." in flash
    assert "Line 3: “cam010” repeats line 2; ignored" in flash
    page.screenshot(path=str(artifacts / "import-repeats-flash-en.png"), full_page=True)


def test_picker_follows_the_source_versions(browser_page, live_server, world, artifacts):
    page = browser_page
    add_devices(world.product, 3, "1.0.0", prefix="old")
    add_devices(world.product, 2, "1.1.0", prefix="mid")
    add_devices(world.product, 4, None, prefix="never")
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server}/firmware/{world.fw.id}/upgrade")
    page.select_option("#source_versions", ["1.0.0"])
    page.check("input[name=scope][value=selected]")
    page.wait_for_selector("#device-picker")
    names = page.locator("#device-picker tbody td:nth-child(2)").all_inner_texts()
    assert names == ["old_00000", "old_00001", "old_00002"]
    page.click("#device-picker button:has-text('全选 3 台匹配设备')")
    page.wait_for_function("document.querySelector('#picker-count').textContent.includes('已选 3 台设备')")
    page.wait_for_function("document.querySelector('#preview').textContent.includes('本任务将升级 3 台设备')")
    page.screenshot(path=str(artifacts / "picker-zh.png"), full_page=True)
    # A search swaps the picker, never the form's hidden token (both were id="picker").
    page.fill("#device-picker input[name=q]", "old_00001")
    page.wait_for_function("document.querySelectorAll('#device-picker tbody input[type=checkbox]').length === 1")
    assert page.locator("#upgrade-form input[type=hidden][name=picker]").count() == 1
    page.fill("#device-picker input[name=q]", "")
    page.wait_for_function("document.querySelectorAll('#device-picker tbody input[type=checkbox]').length === 3")

    # Another version chosen: the picker lists its devices (never the unreported ones).
    settled(page)
    page.select_option("#source_versions", ["1.0.0", "1.1.0"])
    page.wait_for_function("document.querySelectorAll('#device-picker tbody input[type=checkbox]').length === 5")
    assert "never" not in page.inner_text("#device-picker")

    switch_language(page, "en")  # a fresh form: a new, empty selection
    page.select_option("#source_versions", ["1.1.0"])
    page.check("input[name=scope][value=selected]")
    page.wait_for_selector("#device-picker")
    page.wait_for_function("document.querySelectorAll('#device-picker tbody input[type=checkbox]').length === 2")
    page.click("#device-picker button:has-text('Select all 2 matching devices')")
    page.wait_for_function("document.querySelector('#picker-count').textContent.includes('Chosen: 2 devices')")
    # Back to 1.0.0 only: its devices are listed; the two chosen on 1.1.0 will be skipped, and the page says so.
    settled(page)
    page.select_option("#source_versions", ["1.0.0"])
    page.wait_for_function("document.querySelectorAll('#device-picker tbody input[type=checkbox]').length === 3")
    page.check("#device-picker tbody input[type=checkbox] >> nth=0")
    page.wait_for_function("document.querySelector('#picker-count').textContent.includes('Chosen: 3 devices')")
    page.wait_for_function("document.querySelector('#preview').textContent.includes('This task will reach 1 device.')")
    assert "2 chosen devices are not on a selected version" in page.inner_text("#preview")
    page.screenshot(path=str(artifacts / "picker-en.png"), full_page=True)
    page.click("button[type=submit]:has-text('Save')")
    page.wait_for_url("**/tasks/*")
    task = UpgradeTask.query.one()
    assert len(task.selection) == 3 and {s["name"] for s in task.skipped} == {"mid_00003", "mid_00004"}
    assert "Specified devices (3)" in page.inner_text("dl.props")
    page.screenshot(path=str(artifacts / "picker-task-en.png"), full_page=True)


def test_cancel_asks_and_the_edit_shows_the_new_name(browser_page, live_server, world, artifacts):
    page = browser_page
    add_devices(world.product, 2, "1.0.0")
    sign_in(page, live_server, "alice")
    page.goto(f"{live_server}/firmware/{world.fw.id}/upgrade")
    page.select_option("#source_versions", ["1.0.0"])
    page.click("button[type=submit]:has-text('保存')")
    page.wait_for_url("**/tasks/*")
    run_jobs()
    task = UpgradeTask.query.one()
    page.goto(f"{live_server}/tasks/{task.id}")
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.click("#task-devices td.actions a:has-text('取消') >> nth=0")
    page.wait_for_timeout(300)
    assert questions and questions[0].startswith("确定取消设备 dev_0000")
    assert page.locator("#task-devices td.actions a:has-text('取消')").count() == 2  # dismissed: nothing changed
    page.once("dialog", lambda d: answer(d, True))
    page.click("#task-devices td.actions a:has-text('取消') >> nth=0")
    page.wait_for_function("document.querySelectorAll('#task-devices td.actions a.danger').length === 1")
    page.once("dialog", lambda d: answer(d, True))
    page.click(f"#task-{task.id}-bulk a:has-text('取消全部未完成设备')")
    page.wait_for_selector(".flash-success")
    assert "已取消 1 个未完成的升级" in page.inner_text(".flash-success")
    assert [(u.status, u.error_code) for u in records(task.id)] == [(UpgradeStatus.FAILED, "cancelled")] * 2

    page.goto(f"{live_server}/firmware/{world.fw.id}")
    page.click(f"#fw-info-{world.fw.id} a:has-text('编辑')")
    page.fill("input[name=name]", "门铃正式版")
    page.click(f"#fw-info-{world.fw.id} button[type=submit]")
    page.wait_for_selector(".toast-success")
    assert page.inner_text(f"#fw-head-{world.fw.id} h1").startswith("门铃正式版")
    assert "固件已保存" in page.inner_text("#toasts")
    confirm = page.get_attribute(f"#fw-head-{world.fw.id} a.btn-danger", "hx-confirm")
    assert confirm.startswith("确定删除固件 门铃正式版（版本 2.0.0）、其文件及其 1 个已结束的升级任务记录")
    page.screenshot(path=str(artifacts / "firmware-edited-zh.png"), full_page=True)
