"""Products and their devices."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ota.extensions import db
from ota.models.base import utcnow


class Product(db.Model):
    """A product; `code` is its Tencent-style ProductId (10 upper-case letters and digits)."""

    __tablename__ = "products"
    __table_args__ = {"sqlite_autoincrement": True}  # ids never reused (see Firmware)
    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    # Globally unique: it is part of every MQTT topic and client id.
    code: Mapped[str] = mapped_column(String(10), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    devices: Mapped[list["Device"]] = relationship(back_populates="product", lazy="dynamic")


class Device(db.Model):
    """A device of a product, with the firmware version it last reported."""

    __tablename__ = "devices"
    __table_args__ = (
        UniqueConstraint("product_id", "name", name="uq_devices_product_name"),
        Index("ix_devices_product_version", "product_id", "version"),
        {"sqlite_autoincrement": True},  # ids never reused (see Firmware)
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    name: Mapped[str] = mapped_column(String(48))  # DeviceName
    secret: Mapped[str] = mapped_column(String(32))  # base64 of 16 random bytes
    version: Mapped[str | None] = mapped_column(String(32))  # as last reported
    last_seen_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    product: Mapped[Product] = relationship(back_populates="devices")
