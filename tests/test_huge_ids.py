"""Ids and page numbers too large for the database are a 404 (or an empty page), never a 500."""
import re

import pytest
import websocket

from ota.web import ID_MAX, _at_most, bounded_int, page_arg
from tests.conftest import login
from tests.live_fixtures import cookie_header, http_login, live_server, seeded  # noqa: F401

TOKEN = "a" * 32
HUGE = [2**31, 2**63, 2**64, 10**30]


def _urls(app):
    """Every route with an <int:...> part, each such part set to {n} (other parts to a plausible token)."""
    out = []
    for rule in app.url_map.iter_rules():
        if not any(type(c).__name__ == "IdConverter" for c in rule._converters.values()):
            continue
        path = re.sub(r"<int:[a-z_]+>", "{n}", rule.rule)
        path = re.sub(r"<[^>]+>", "tok", path)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, path))
    return out


@pytest.mark.parametrize("path", [
    "/firmware/{n}", "/firmware/{n}/edit", "/firmware/{n}/upgrade", "/tasks/{n}", "/tasks/{n}/devices.csv",
    "/products/{n}", "/products/1/devices/{n}", "/firmware/{n}/monitoring", "/ws/tasks/{n}",
])
@pytest.mark.parametrize("n", HUGE)
def test_huge_ids_in_urls_are_404(auth_client, path, n):
    assert auth_client.get(path.format(n=n)).status_code == 404


def test_every_int_route_refuses_huge_ids(app, auth_client, seeded):
    urls = _urls(app)
    assert len(urls) > 20  # the scan found the routes
    for method, path in urls:
        for n in (2**31, 2**64):
            r = auth_client.open(path.format(n=n), method=method)
            assert r.status_code == 404, (method, path, n, r.status_code)
    assert auth_client.get(f"/firmware/{ID_MAX}").status_code == 404  # in range: just not there


@pytest.mark.parametrize("n", [2**31, 2**64, -5, 0, "x"])
def test_huge_pages_and_product_args_are_not_errors(auth_client, seeded, n):
    fw, (t1, _t2), product = seeded["firmware"], seeded["tasks"], seeded["product"]
    for url in (f"/tasks/{t1.id}?page={n}", f"/products/{product.id}?page={n}",
                f"/firmware/{fw.id}?page={n}&tab=devices", f"/firmware/{fw.id}?page={n}",
                f"/firmware/{fw.id}/upgrade/picker?token={TOKEN}&page={n}", f"/firmware/new?product={n}"):
        assert auth_client.get(url).status_code == 200, url


def test_a_huge_product_in_the_upload_form_is_a_field_error(auth_client, seeded):
    r = auth_client.put(f"/firmware/upload?product={2**64}&name=fw&version=9.9.9&filename=a.bin",
                        data=b"\x01" * 100, headers={"Content-Type": "application/octet-stream", "HX-Request": "true"})
    assert r.status_code == 422 and "field-product" in r.get_data(as_text=True)


def test_a_huge_page_on_the_task_socket_is_an_empty_page(live_server, seeded):
    t1 = seeded["tasks"][0]
    cookie = cookie_header(http_login(live_server))
    ws = websocket.create_connection(live_server.replace("http://", "ws://") + f"/ws/tasks/{t1.id}?page={2**64}",
                                     header=[f"Cookie: {cookie}"], timeout=10)
    try:
        snapshot = ws.recv()
        assert 'hx-swap-oob' in snapshot and '<tr id="du-' not in snapshot
    finally:
        ws.close()


def test_helpers():
    assert bounded_int("12") == 12 and bounded_int(str(2**31)) is None and bounded_int("0") is None
    assert bounded_int(None, 3) == 3 and bounded_int("1e3") is None
    assert page_arg({"page": str(2**64)}) == ID_MAX and page_arg({"page": "-3"}) == 1 and page_arg({}) == 1


def test_the_route_regex_matches_exactly_1_to_the_limit():
    for limit in (1, 9, 10, 57, 205, 1000):
        rx = re.compile(_at_most(limit))
        assert [x for x in range(3000) if rx.fullmatch(str(x))] == list(range(1, limit + 1))
    rx = re.compile(_at_most(ID_MAX))
    for x in (1, 10**9 - 1, 10**9, 2 * 10**9, ID_MAX - 1, ID_MAX):
        assert rx.fullmatch(str(x))
    for x in (0, ID_MAX + 1, 2147483650, 2147490000, 2**32, 10**10):
        assert not rx.fullmatch(str(x))
    assert not rx.fullmatch("007")
