"""In Debian's Chromium: the firmware page's monitoring sections switch tabs, filter and follow events live."""
import pytest
from sqlalchemy import update

from ota.extensions import db
from ota.models import DeviceUpgrade
from ota.services import events
from tests.live_fixtures import live_server, seeded  # noqa: F401  (fixtures)
from tests.test_browser_live import browser_page, sign_in  # noqa: F401  (fixture)
from tests.test_live import upgrade_ids

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_firmware_page_tabs_filters_and_live_counters(browser_page, live_server, seeded, artifacts):
    page, fw = browser_page, seeded["firmware"]
    t1, _ = seeded["tasks"]
    sign_in(page, live_server, "alice")
    with page.expect_websocket() as ws_info:
        page.goto(f"{live_server}/firmware/{fw.id}")
    ws_info.value.wait_for_event("framereceived")
    page.evaluate("window.__notReloaded = true")
    assert page.locator(f"#fwtask-{t1.id}").is_visible()
    page.screenshot(path=str(artifacts / "firmware-monitoring-tasks-zh.png"), full_page=True)

    # 设备明细 by htmx (a new socket for the new view), then the 升级失败 filter.
    with page.expect_websocket() as ws_info:
        page.click("nav.tabs >> text=设备明细")
    ws_info.value.wait_for_event("framereceived")
    assert page.locator("tr[id^=fwdu-]").count() == 13
    with page.expect_websocket() as ws_info:
        page.select_option("select[name=status]", "failed")
    ws_info.value.wait_for_event("framereceived")
    assert page.locator("tr[id^=fwdu-]").count() == 2
    assert "status=failed" in page.url

    # A pending record starts downloading: the counters move, and it enters nothing on this page.
    target = upgrade_ids(t1)[0]
    db.session.execute(update(DeviceUpgrade).where(DeviceUpgrade.id == target)
                       .values(status="failed", error_code="cancelled"))
    db.session.commit()
    events.publish_upgrades([(t1.id, fw.id, target)])
    page.wait_for_function("document.querySelectorAll('tr[id^=fwdu-]').length === 3")
    failed = page.locator(f"#fw-{fw.id}-stats .stat-failed .num").inner_text()
    assert failed == "3"
    assert page.evaluate("window.__notReloaded === true")
    page.screenshot(path=str(artifacts / "firmware-monitoring-devices-zh.png"), full_page=True)

    page.click("header .lang-switch button")
    page.wait_for_selector("html[lang=en]")
    assert "Device details" in page.inner_text("nav.tabs")
    page.screenshot(path=str(artifacts / "firmware-monitoring-devices-en.png"), full_page=True)
