"""Build the update_firmware messages for device-upgrade records (used by dispatch and the gateway)."""
from collections.abc import Iterable
from dataclasses import dataclass

from ota.devicechannel import protocol
from ota.extensions import db
from ota.models import Device, DeviceUpgrade, Firmware, Product
from ota.services.downloads import download_url


@dataclass(frozen=True)
class Push:
    """One message to publish (QoS 1, not retained) for one device-upgrade record."""

    upgrade_id: int
    task_id: int
    firmware_id: int
    topic: str
    payload: bytes


def build_pushes(upgrade_ids: Iterable[int]) -> list[Push]:
    """Return the update_firmware pushes for the given records, in one query (any status)."""
    ids = list(upgrade_ids)
    if not ids:
        return []
    rows = db.session.execute(
        db.select(
            DeviceUpgrade.id, DeviceUpgrade.task_id, DeviceUpgrade.device_id, Device.name,
            Product.code, Firmware.id, Firmware.version, Firmware.md5, Firmware.size,
        )
        .join(Device, Device.id == DeviceUpgrade.device_id)
        .join(Product, Product.id == Device.product_id)
        .join(Firmware, Firmware.id == DeviceUpgrade.firmware_id)
        .where(DeviceUpgrade.id.in_(ids))
    ).all()
    return [
        Push(
            upgrade_id=uid, task_id=task_id, firmware_id=fw_id,
            topic=protocol.update_topic(code, name),
            payload=protocol.update_firmware(version, download_url(fw_id, device_id), md5, size),
        )
        for uid, task_id, device_id, name, code, fw_id, version, md5, size in rows
    ]
