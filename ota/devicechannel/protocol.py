"""Topics and server messages of Tencent IoT Explorer OTA over MQTT (DESIGN.md section 4)."""
import json

REPORT_SUBSCRIPTION = "$ota/report/+/+"  # explicit: root wildcards never match "$" topics


def update_topic(product_code: str, device_name: str) -> str:
    """Return the topic a device listens on for server messages."""
    return f"$ota/update/{product_code}/{device_name}"


def report_topic(product_code: str, device_name: str) -> str:
    """Return the topic a device publishes its reports to."""
    return f"$ota/report/{product_code}/{device_name}"


def parse_report_topic(topic: str) -> tuple[str, str] | None:
    """Return (product_code, device_name) of a report topic, or None if it is not one."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != "$ota" or parts[1] != "report" or not parts[2] or not parts[3]:
        return None
    return parts[2], parts[3]


def report_version_rsp(version: str) -> bytes:
    """Answer a report_version; result_code must be the integer 0 (the SDK waits on it)."""
    return json.dumps(
        {"type": "report_version_rsp", "result_code": 0, "result_msg": "success", "version": version}
    ).encode()


def update_firmware(version: str, url: str, md5: str, size: int) -> bytes:
    """Tell a device to upgrade; file_size must be a JSON integer and md5sum lower-case."""
    return json.dumps(
        {"type": "update_firmware", "version": version, "url": url, "md5sum": md5.lower(),
         "file_size": int(size)}
    ).encode()
