"""A device built on Tencent's own SDK (tencent-iot-device 1.0.0), run by tests/test_sdk.py and `make demo`.

Runs as a script under .venv-sdk/bin/python (paho-mqtt 1.5.1), never the project's venv, and
imports nothing from the ota package (whose __init__ needs Flask). Follows the official
sample explorer/sample/ota/example_ota.py: report the version, wait for update_firmware, download
with otaDownloadStart/otaFetchYield (resuming from a partial file like the sample does), check the
MD5 with the SDK's own IOT_OTAG_CHECK_FIRMWARE, report success, then report the new version.
Prints one JSON line of what happened. --stop-after N exits abruptly after N bytes (power loss);
--wait is how long to wait for the push; --pace spreads the download over about that many seconds.
"""
import argparse
import json
import os
import sys
import time
from enum import Enum

# Run as a script, this file's folder (ota/devicechannel) would be first on sys.path, and its
# modules (mqtt.py, protocol.py, ...) could shadow what the SDK imports.
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(os.path.abspath(__file__))]

from explorer.explorer import QcloudExplorer
from hub.utils.providers import ConnClientProvider


class OtaCmdType(Enum):  # as in the official sample
    IOT_OTAG_FETCHED_SIZE = 0
    IOT_OTAG_FILE_SIZE = 1
    IOT_OTAG_MD5SUM = 2
    IOT_OTAG_VERSION = 3
    IOT_OTAG_CHECK_FIRMWARE = 4


def wait(predicate, timeout: float, what: str):
    deadline = time.time() + timeout
    while not predicate():
        if time.time() > deadline:
            print(json.dumps({"error": f"timed out waiting for {what}"}), flush=True)
            sys.exit(2)
        time.sleep(0.05)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--info", required=True)
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--stop-after", type=int)
    ap.add_argument("--wait", type=float, default=15, help="Seconds to wait for update_firmware.")
    ap.add_argument("--pace", type=float, default=0, help="Spread the download over about this many seconds.")
    args = ap.parse_args()
    got = {"rsp": [], "published": set()}

    qcloud = QcloudExplorer(device_file=args.info, tls=False, domain=".ota.localtest")
    # The SDK connects to {ProductId}{domain}:1883; point its client at the test's broker instead.
    proto = ConnClientProvider._instance.protocol
    proto._AsyncConnClient__host = args.host
    proto._AsyncConnClient__mqtt_tcp_port = args.port
    pid, name = qcloud.getProductID(), qcloud.getDeviceName()

    def on_ota_report(topic, qos, payload, userdata):
        got["rsp"].append(payload)

    def on_publish(mid, userdata):
        got["published"].add(mid)

    noop = lambda *a: None  # noqa: E731
    qcloud.registerMqttCallback(noop, noop, noop, on_publish, noop, noop)
    qcloud.connect()
    wait(qcloud.isMqttConnected, 10, "MQTT connect")
    qcloud.otaInit(pid, name, on_ota_report)
    time.sleep(0.3)  # the SUBACK for $ota/update/...
    qcloud.otaReportVersion(pid, name, args.version)
    wait(lambda: got["rsp"], 5, "report_version_rsp")
    rsp = got["rsp"][0]
    print(json.dumps({"online": True, "rsp": rsp}), flush=True)
    wait(lambda: qcloud.otaIsFetching(pid, name), args.wait, "update_firmware")

    size, _ = qcloud.otaIoctlNumber(pid, name, OtaCmdType.IOT_OTAG_FILE_SIZE)
    remote, _ = qcloud.otaIoctlString(pid, name, OtaCmdType.IOT_OTAG_VERSION, 32)
    path = os.path.join(args.dir, f"FW_{remote}.bin")
    offset = os.path.getsize(path) if os.path.exists(path) else 0
    if offset:  # resume: the MD5 must include the bytes already on disk (the sample's _cal_exist_fw_md5)
        qcloud.otaResetMd5(pid, name)
        with open(path, "rb") as f:
            qcloud.otaMd5Update(pid, name, f.read())
    if qcloud.otaDownloadStart(pid, name, offset, size) != 0:
        print(json.dumps({"error": "download start failed"}), flush=True)
        return 3
    fetched = offset
    # A little slower than loopback, so percents are reported over time (the SDK: about one a second).
    pause = max(0.002, args.pace * 5000 / max(1, size - offset)) if args.pace else 0.002
    with open(path, "ab") as f:
        while not qcloud.otaIsFetchFinished(pid, name):
            buf, n = qcloud.otaFetchYield(pid, name, 5000)
            if n < 0:
                print(json.dumps({"error": f"fetch failed {n}"}), flush=True)
                return 4
            f.write(buf)
            fetched += n
            if args.stop_after and fetched - offset >= args.stop_after:
                f.flush()
                print(json.dumps({"stopped_at": fetched, "rsp": rsp}), flush=True)
                os._exit(0)  # power loss mid-download: no goodbye to anyone
            time.sleep(pause)
    valid, _ = qcloud.otaIoctlNumber(pid, name, OtaCmdType.IOT_OTAG_CHECK_FIRMWARE)
    if valid == 0:
        rc, mid = qcloud.otaReportUpgradeSuccess(pid, name, None)
    else:
        rc, mid = qcloud.otaReportUpgradeFail(pid, name, None)
    wait(lambda: mid in got["published"], 5, "PUBACK of the result")
    # "Reboot" into the new firmware and say so, as the sample's loop does on its next round.
    got["rsp"].clear()
    new_version = remote if valid == 0 else args.version
    qcloud.otaReportVersion(pid, name, new_version)
    wait(lambda: got["rsp"], 5, "second report_version_rsp")
    print(json.dumps({"md5_ok": valid == 0, "size": size, "offset": offset, "fetched": fetched,
                      "rsp": rsp, "version": new_version}), flush=True)
    qcloud.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
