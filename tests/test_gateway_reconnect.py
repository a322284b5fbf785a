"""The gateway survives a broker restart: it reconnects, subscribes again and stops/restarts its heartbeat."""
import time

import pytest
import redis

from ota.devicechannel.gateway import Gateway
from ota.models import DeviceUpgrade
from ota.runtime import services
from ota.services.health import GATEWAY_HEARTBEAT_KEY
from tests.devicechannel_fixtures import *  # noqa: F401,F403
from tests.devicechannel_fixtures import FakeDevice


@pytest.mark.slow
def test_reconnect_and_resubscribe_after_a_broker_restart(app, fleet, tmp_path):
    port = services.free_port()
    broker, url = services.start_mosquitto(tmp_path / "mq", port=port)
    r = redis.Redis.from_url(app.config["REDIS_URL"])
    gw = Gateway(app, url=url, batch_seconds=0.05).start()
    try:
        assert gw.wait_ready(10)
        fw = fleet.firmware()
        dev = fleet.devices(1)[0]
        up = fleet.upgrade([dev], fw)[0]
        assert wait_for(lambda: r.exists(GATEWAY_HEARTBEAT_KEY))

        services.stop(broker)
        assert wait_for(lambda: not gw.connected.is_set(), timeout=10)
        r.delete(GATEWAY_HEARTBEAT_KEY)
        time.sleep(6)  # longer than the heartbeat period: a disconnected gateway must not beat
        assert not r.exists(GATEWAY_HEARTBEAT_KEY)

        broker, url = services.start_mosquitto(tmp_path / "mq", port=port)
        assert gw.subscribed.wait(20), "gateway did not resubscribe"
        assert gw.stats["connects"] == 2
        assert wait_for(lambda: r.exists(GATEWAY_HEARTBEAT_KEY), timeout=5)

        device = FakeDevice(url, fleet.code, dev.name)
        try:
            device.progress("downloading", fw.version, percent="64")
            assert wait_for(lambda: fresh(DeviceUpgrade, up.id).percent == 64)
        finally:
            device.close()
    finally:
        gw.stop()
        services.stop(broker)
