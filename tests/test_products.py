"""Products: create, list, rename (htmx in place), tenancy, and the `flask ota product` commands."""
import re

import pytest

from ota.extensions import db
from ota.models import Device, Product
from ota.services import products
from tests.conftest import login

HX = {"HX-Request": "true"}


def test_product_code_is_ten_upper_case_letters_and_digits(app, user):
    codes = {products.create_product(user.account_id, f"p{i}").code for i in range(20)}
    assert len(codes) == 20 and all(re.fullmatch(r"[A-Z0-9]{10}", c) for c in codes)


@pytest.mark.parametrize("name,ok", [("", False), ("   ", False), ("x", True), ("x" * 64, True),
                                     ("x" * 65, False), ("门铃" * 32, True), ("门铃" * 32 + "a", False)])
def test_product_name_rule_in_the_service(app, user, name, ok):
    if ok:
        assert products.create_product(user.account_id, name).name == name.strip()
    else:
        with pytest.raises(products.ProductNameError):
            products.create_product(user.account_id, name)


def test_create_product_from_the_page(auth_client, user):
    r = auth_client.post("/products", data={"name": "  DoorCam  "})
    assert r.status_code == 303
    product = db.session.execute(db.select(Product)).scalar_one()
    assert product.name == "DoorCam" and product.account_id == user.account_id
    assert r.headers["Location"] == f"/products/{product.id}"
    page = auth_client.get(r.headers["Location"]).get_data(as_text=True)
    assert product.code in page and "已创建" in page


def test_create_product_with_htmx_redirects_the_page(auth_client):
    r = auth_client.post("/products", data={"name": "DoorCam"}, headers=HX)
    assert r.status_code == 200 and r.headers["HX-Redirect"].startswith("/products/")


@pytest.mark.parametrize("name,status", [("x" * 64, 303), ("x" * 65, 422), ("", 422)])
def test_create_product_boundaries(auth_client, name, status):
    r = auth_client.post("/products", data={"name": name}, headers=HX if status == 422 else {})
    assert r.status_code == status
    if status == 422:
        body = r.get_data(as_text=True)
        assert 'id="product-form"' in body and ("最多 64 个字符" in body or "请输入产品名称" in body)
        assert db.session.execute(db.select(Product)).first() is None


def test_invalid_create_without_htmx_shows_the_whole_page(auth_client):
    r = auth_client.post("/products", data={"name": "x" * 65})
    assert r.status_code == 422 and "<html" in r.get_data(as_text=True)


def test_list_shows_name_code_count_and_created(auth_client, user, make_product):
    p = make_product(user.account_id, "DoorCam")
    db.session.add_all([Device(product_id=p.id, name=f"d{i}", secret="s") for i in range(3)])
    make_product(user.account_id, "Empty")
    db.session.commit()
    page = auth_client.get("/products").get_data(as_text=True)
    assert "DoorCam" in page and p.code in page and "Empty" in page
    row = re.search(rf'<tr id="product-{p.id}">(.*?)</tr>', page, re.S).group(1)
    assert "<td>3</td>" in row and re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", row)


def test_list_product_counts_per_product(app, user, make_product):
    a, b = make_product(user.account_id, "A"), make_product(user.account_id, "B")
    db.session.add_all([Device(product_id=a.id, name=f"d{i}", secret="s") for i in range(5)])
    db.session.add(Device(product_id=b.id, name="x", secret="s"))
    db.session.commit()
    assert {p.name: n for p, n in products.list_products(user.account_id)} == {"A": 5, "B": 1}


def test_rename_in_place(auth_client, user, make_product):
    p = make_product(user.account_id, "Old")
    edit = auth_client.get(f"/products/{p.id}/edit", headers=HX)
    assert edit.status_code == 200 and 'value="Old"' in edit.get_data(as_text=True)
    r = auth_client.post(f"/products/{p.id}/name", data={"name": "New name"}, headers=HX)
    assert r.status_code == 200
    body = r.get_data(as_text=True)
    assert body.lstrip().startswith(f'<tr id="product-{p.id}">') and "New name" in body
    assert db.session.get(Product, p.id).name == "New name"
    assert auth_client.get(f"/products/{p.id}/row", headers=HX).status_code == 200


@pytest.mark.parametrize("name,status", [("y" * 64, 200), ("y" * 65, 422), ("  ", 422)])
def test_rename_boundaries(auth_client, user, make_product, name, status):
    p = make_product(user.account_id, "Old")
    r = auth_client.post(f"/products/{p.id}/name", data={"name": name}, headers=HX)
    assert r.status_code == status
    db.session.expire_all()
    assert db.session.get(Product, p.id).name == (name if status == 200 else "Old")
    if status == 422:
        assert 'class="error"' in r.get_data(as_text=True)


def test_rename_without_htmx_redirects(auth_client, user, make_product):
    p = make_product(user.account_id, "Old")
    r = auth_client.post(f"/products/{p.id}/name", data={"name": "New"})
    assert r.status_code == 303 and r.headers["Location"] == "/products"


def test_another_accounts_product_is_404(client, make_user, make_product):
    bob = make_user("bob")
    theirs = make_product(bob.account_id, "BobCam")
    make_user("alice")
    login(client)
    assert "BobCam" not in client.get("/products").get_data(as_text=True)
    for url in (f"/products/{theirs.id}", f"/products/{theirs.id}/edit", f"/products/{theirs.id}/row"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/products/{theirs.id}/name", data={"name": "Mine"}).status_code == 404
    assert db.session.get(Product, theirs.id).name == "BobCam"
    assert not products.rename_product(1234, theirs.id, "x")


def test_products_page_in_english(auth_client):
    auth_client.post("/lang/en", data={"next": "/products"})
    page = auth_client.get("/products").get_data(as_text=True)
    assert "Create a product" in page and "No products yet" in page


# ---- CLI ----

def test_cli_product_create_uses_the_only_account(app, user):
    r = app.test_cli_runner().invoke(args=["ota", "product", "create", "DoorCam"])
    assert r.exit_code == 0, r.output
    code = r.output.strip()
    product = products.by_code(code)
    assert re.fullmatch(r"[A-Z0-9]{10}", code) and product.account_id == user.account_id


def test_cli_product_create_needs_account_id_when_several(app, make_user):
    make_user("alice")
    bob = make_user("bob")
    runner = app.test_cli_runner()
    r = runner.invoke(args=["ota", "product", "create", "DoorCam"])
    assert r.exit_code != 0 and "--account-id" in r.output
    r = runner.invoke(args=["ota", "product", "create", "DoorCam", "--account-id", str(bob.account_id)])
    assert r.exit_code == 0 and products.by_code(r.output.strip()).account_id == bob.account_id
    r = runner.invoke(args=["ota", "product", "create", "DoorCam", "--account-id", "999"])
    assert r.exit_code != 0 and "no account" in r.output


def test_cli_product_create_without_any_account(app):
    r = app.test_cli_runner().invoke(args=["ota", "product", "create", "DoorCam"])
    assert r.exit_code != 0 and "create-user" in r.output


def test_cli_product_create_refuses_a_long_name(app, user):
    runner = app.test_cli_runner()
    r = runner.invoke(args=["ota", "product", "create", "x" * 65])
    assert r.exit_code != 0 and "at most 64 characters" in r.output
    assert runner.invoke(args=["ota", "product", "create", "x" * 64]).exit_code == 0


def test_cli_product_list(app, user, make_product):
    p = make_product(user.account_id, "DoorCam")
    db.session.add(Device(product_id=p.id, name="d1", secret="s"))
    db.session.commit()
    r = app.test_cli_runner().invoke(args=["ota", "product", "list"])
    assert r.exit_code == 0 and r.output == f"{p.code}\t1\t{user.account_id}\tDoorCam\n"
