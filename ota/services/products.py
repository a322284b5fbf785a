"""Products: create, list, rename, always within one account."""
import secrets
import string

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError

from ota.extensions import db
from ota.models import Device, Product

CODE_ALPHABET = string.ascii_uppercase + string.digits
CODE_LENGTH = 10
NAME_MAX = 64


class ProductNameError(ValueError):
    """The product name breaks the rule; str() is the message for the user."""


def new_code() -> str:
    """Return a random ProductId: 10 upper-case letters and digits."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def clean_name(name: str | None) -> str:
    """Return the stripped name, or raise ProductNameError when it is not 1-64 characters."""
    name = (name or "").strip()
    if not name:
        raise ProductNameError(_l("Enter a product name."))
    if len(name) > NAME_MAX:
        raise ProductNameError(_l("The product name can have at most %(max)s characters.", max=NAME_MAX))
    return name


def create_product(account_id: int, name: str) -> Product:
    """Create a product with a fresh ProductId (retrying the one-in-3e15 collision)."""
    name = clean_name(name)
    for _ in range(5):
        product = Product(account_id=account_id, code=new_code(), name=name)
        db.session.add(product)
        try:
            db.session.commit()
            return product
        except IntegrityError:
            db.session.rollback()
    raise RuntimeError("could not allocate a unique ProductId")


def rename_product(account_id: int, product_id: int, name: str) -> bool:
    """Rename a product of the account; return False when there is no such product."""
    name = clean_name(name)
    result = db.session.execute(
        update(Product).where(Product.id == product_id, Product.account_id == account_id).values(name=name)
    )
    db.session.commit()
    return result.rowcount == 1


def list_products(account_id: int) -> list[tuple[Product, int]]:
    """Return the account's products, newest first, each with its device count."""
    counts = (
        db.select(Device.product_id, func.count().label("n"))
        .join(Product, Product.id == Device.product_id)
        .where(Product.account_id == account_id)
        .group_by(Device.product_id)
        .subquery()
    )
    rows = db.session.execute(
        db.select(Product, func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.product_id == Product.id)
        .where(Product.account_id == account_id)
        .order_by(Product.created_at.desc(), Product.id.desc())
    ).all()
    return [(p, n) for p, n in rows]


def product_choices(account_id: int) -> list[tuple[int, str]]:
    """Return (id, "name (ProductId)") for the account's products, for select fields."""
    rows = db.session.execute(
        db.select(Product.id, Product.name, Product.code)
        .where(Product.account_id == account_id).order_by(Product.name, Product.id)
    ).all()
    return [(pid, f"{name} ({code})") for pid, name, code in rows]


def by_code(code: str, account_id: int | None = None) -> Product | None:
    """Return the product with this ProductId (within the account when given), else None."""
    query = db.select(Product).where(Product.code == (code or "").strip().upper())
    if account_id is not None:
        query = query.where(Product.account_id == account_id)
    return db.session.execute(query).scalar_one_or_none()
