"""Database models, one module per domain; import them from here."""
from ota.models.account import Account, User
from ota.models.catalog import Device, Product
from ota.models.firmware import Firmware
from ota.models.upgrade import DeviceUpgrade, TaskStatus, UpgradeStatus, UpgradeTask
from ota.models.base import utcnow

__all__ = [
    "Account", "User", "Product", "Device", "Firmware", "UpgradeTask", "DeviceUpgrade",
    "TaskStatus", "UpgradeStatus", "utcnow",
]
