"""The upgrade form posted several times at once (double click, retries) saves one task; repeats go to it."""
import re
import threading

from ota.extensions import db
from ota.models import UpgradeTask
from tests.live_fixtures import http_login, live_server  # noqa: F401
from tests.task_fixtures import add_devices, world  # noqa: F401


def _form_page(session, base, fw_id):
    page = session.get(f"{base}/firmware/{fw_id}/upgrade").text
    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)
    submission = re.search(r'name="submission" type="hidden" value="([^"]+)"', page).group(1)
    return page, token, submission


def test_three_concurrent_posts_of_one_form_save_one_task(live_server, world):
    add_devices(world.product, 5, "1.0.0")
    session = http_login(live_server)
    page, token, submission = _form_page(session, live_server, world.fw.id)
    assert "data-submit-once" in page
    data = {"csrf_token": token, "submission": submission, "method": "version", "source_versions": "1.0.0",
            "scope": "all", "timeout": "600"}
    results, start = [], threading.Barrier(3)

    def post():
        start.wait()
        r = session.post(f"{live_server}/firmware/{world.fw.id}/upgrade", data=data, allow_redirects=False)
        results.append((r.status_code, r.headers.get("Location")))

    threads = [threading.Thread(target=post) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    db.session.expire_all()
    ids = db.session.execute(db.select(UpgradeTask.id)).scalars().all()
    assert len(ids) == 1
    assert sorted(results) == [(303, f"/tasks/{ids[0]}")] * 3
    # A later repeat (the back button, a resend) goes to the same task too.
    r = session.post(f"{live_server}/firmware/{world.fw.id}/upgrade", data=data, allow_redirects=False)
    assert (r.status_code, r.headers["Location"]) == (303, f"/tasks/{ids[0]}")
    assert db.session.execute(db.select(db.func.count(UpgradeTask.id))).scalar() == 1


def test_a_refused_post_gives_the_token_back(auth_client, world):
    add_devices(world.product, 2, "1.0.0")
    data = {"submission": "tok-refused-1", "method": "version", "scope": "all", "timeout": "600"}
    assert auth_client.post(f"/firmware/{world.fw.id}/upgrade", data=data).status_code == 422
    r = auth_client.post(f"/firmware/{world.fw.id}/upgrade", data={**data, "source_versions": "1.0.0"})
    assert r.status_code == 303
    assert db.session.execute(db.select(db.func.count(UpgradeTask.id))).scalar() == 1


def test_each_new_form_has_its_own_token(auth_client, world):
    pages = [auth_client.get(f"/firmware/{world.fw.id}/upgrade").get_data(as_text=True) for _ in range(2)]
    tokens = {re.search(r'name="submission" type="hidden" value="([^"]+)"', p).group(1) for p in pages}
    assert len(tokens) == 2
