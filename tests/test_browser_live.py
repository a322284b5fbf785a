"""In Debian's Chromium: a task page follows a device's real MQTT reports live, and 取消 / 重试 work."""
import pytest

from ota.extensions import db
from ota.models import UpgradeStatus, User
from tests.devicechannel_fixtures import *  # noqa: F401,F403  (fleet, gateway, mqtt_device)
from tests.live_fixtures import live_server, seeded  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser_page():
    """A Chromium page (Debian's binary; never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page.set_default_timeout(10_000)
        yield page
        browser.close()


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct-horse")
    page.click("main button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def test_a_row_moves_from_pushed_through_download_to_success_live(
        browser_page, live_server, fleet, gateway, mqtt_device, artifacts):
    page = browser_page
    fw = fleet.firmware("1.2.0")
    watched, other = fleet.devices(2)
    up, up2 = fleet.upgrade([watched, other], fw, UpgradeStatus.PUSHED)
    username = db.session.execute(db.select(User.username).filter_by(account_id=fleet.account_id)).scalar_one()
    sign_in(page, live_server, username)

    with page.expect_websocket() as ws_info:
        page.goto(f"{live_server}/tasks/{up.task_id}")
    ws = ws_info.value
    ws.wait_for_event("framereceived")  # the snapshot
    page.evaluate("window.__notReloaded = true")
    row = page.locator(f"#du-{up.id}")
    assert "已推送" in row.inner_text()

    device = mqtt_device(fleet.code, watched.name)
    for percent in (20, 60):
        device.progress("downloading", "1.2.0", percent=str(percent))
        page.wait_for_function(
            f"document.querySelector('#du-{up.id}')?.innerText.includes('{percent}%')")
        assert "下载中" in row.inner_text() and "升级中" in row.inner_text()
        width = page.eval_on_selector(f"#du-{up.id} .progress-bar", "e => e.style.width")
        assert width == f"{percent}%"
    counters = page.locator(f"#task-{up.task_id}-counters")
    assert "升级中" in counters.inner_text()
    page.screenshot(path=str(artifacts / "live-task-downloading.png"), full_page=True)

    device.progress("done", "1.2.0")
    page.wait_for_function(f"document.querySelector('#du-{up.id}')?.innerText.includes('升级成功')")

    # 取消 then 重试 on the other row; each click swaps the row (and the feed agrees).
    page.once("dialog", lambda dialog: dialog.accept())  # 取消 asks first (hx-confirm)
    page.locator(f"#du-{up2.id} a", has_text="取消").click()
    page.wait_for_function(f"document.querySelector('#du-{up2.id}')?.innerText.includes('升级失败')")
    assert "重试" in page.locator(f"#du-{up2.id}").inner_text()
    page.locator(f"#du-{up2.id} button", has_text="重试").click()
    page.wait_for_function(f"document.querySelector('#du-{up2.id}')?.innerText.includes('待推送')")

    assert page.evaluate("window.__notReloaded === true")  # all of it without a reload
    page.screenshot(path=str(artifacts / "live-task.png"), full_page=True)


def test_the_feed_shows_the_banner_when_redis_stops_and_reconnects_when_it_returns(
        browser_page, seeded, service_env, tmp_path, artifacts):
    """A web process whose own Redis stops and starts again: banner, then a fresh snapshot."""
    import threading

    from werkzeug.serving import make_server

    from ota import create_app
    from ota.runtime import services

    proc, url = services.start_redis(tmp_path / "redis", persist=False)
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    app = create_app({"SQLALCHEMY_DATABASE_URI": service_env["DATABASE_URL"], "REDIS_URL": url,
                      "SECRET_KEY": service_env["SECRET_KEY"]})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    page, fw = browser_page, seeded["firmware"]
    try:
        # Short reconnect delays, so the test does not wait out the default back-off.
        page.add_init_script("document.addEventListener('htmx:load', () => { htmx.config.wsReconnectDelay = () => 300 }, {once: true})")
        sign_in(page, base, "alice")
        with page.expect_websocket() as ws_info:
            page.goto(f"{base}/firmware/{fw.id}")
        ws_info.value.wait_for_event("framereceived")
        assert "Redis" not in page.inner_text("#service-banner")

        services.stop(proc)
        page.wait_for_function("document.querySelector('#service-banner').innerText.includes('Redis')")
        page.screenshot(path=str(artifacts / "live-redis-down.png"))
        proc, _ = services.start_redis(tmp_path / "redis", port=port, persist=False)
        page.wait_for_function("!document.querySelector('#service-banner').innerText.includes('Redis')",
                               timeout=20_000)
        assert page.locator(f"#fw-{fw.id}-stats").is_visible()
    finally:
        server.shutdown()
        services.stop(proc)
