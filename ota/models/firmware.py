"""Firmware images."""
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ota.extensions import db
from ota.models.base import utcnow
from ota.models.catalog import Product


class Firmware(db.Model):
    """A firmware file for a product; the file is stored under `storage_key`, never its own name."""

    __tablename__ = "firmwares"
    __table_args__ = (
        UniqueConstraint("product_id", "version", name="uq_firmwares_product_version"),
        # Ids are never reused (SQLite reuses a deleted newest row's id without AUTOINCREMENT):
        # a 24 h download token names [firmware id, device id] and must not serve a newer file.
        {"sqlite_autoincrement": True},
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    version: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(100), default="")
    filename: Mapped[str] = mapped_column(String(255))  # original name, for display only
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    md5: Mapped[str] = mapped_column(String(32))  # lower-case hex: the 固件签名
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship()
