"""Products: create, list, rename."""
import secrets
import string

from sqlalchemy.exc import IntegrityError

from ota.extensions import db
from ota.models import Product

CODE_ALPHABET = string.ascii_uppercase + string.digits
NAME_MAX = 64


def new_code() -> str:
    """Return a random ProductId: 10 upper-case letters and digits."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(10))


def create_product(account_id: int, name: str) -> Product:
    """Create a product with a fresh ProductId (retrying the one-in-3e15 collision)."""
    name = (name or "").strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise ValueError("product name must be 1-64 characters")
    for _ in range(5):
        product = Product(account_id=account_id, code=new_code(), name=name)
        db.session.add(product)
        try:
            db.session.commit()
            return product
        except IntegrityError:
            db.session.rollback()
    raise RuntimeError("could not allocate a unique ProductId")
