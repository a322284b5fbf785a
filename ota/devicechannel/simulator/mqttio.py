"""paho-mqtt clients driven by an asyncio loop: no thread per client, so 1,000 devices fit in one process.

paho's "external event loop" hooks hand us each client's socket; asyncio's selector (epoll) watches
them all and calls loop_read/loop_write, and one timer calls loop_misc for keepalives.
"""
import asyncio
import logging

import paho.mqtt.client as paho

from ota.devicechannel import mqtt

log = logging.getLogger("ota.simulator")


class AsyncClient:
    """One MQTT connection in the simulator's asyncio loop; callbacks run in that loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, url: str, client_id: str,
                 username: str | None = None, password: str | None = None, on_message=None):
        self.loop = loop
        self.url = url
        # MQTT 3.1, clean session: what the Tencent SDK speaks.
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                                  clean_session=True, protocol=paho.MQTTv31)
        if username:
            self.client.username_pw_set(username, password)
        self.client.on_socket_open = self._open
        self.client.on_socket_close = self._close
        self.client.on_socket_register_write = self._want_write
        self.client.on_socket_unregister_write = self._no_write
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = lambda _c, _u, m: on_message and on_message(m.topic, m.payload)
        self._connected: asyncio.Future | None = None
        self._subacks: dict[int, asyncio.Future] = {}
        self.is_connected = False
        self.on_lost = None  # called (in the loop) when the broker connection drops unexpectedly
        self._misc: asyncio.TimerHandle | None = None

    # --- socket hooks ---------------------------------------------------------------------------
    def _open(self, _c, _u, sock):
        self.loop.add_reader(sock, self.client.loop_read)
        self._misc = self.loop.call_later(1, self._tick)

    def _close(self, _c, _u, sock):
        self.loop.remove_reader(sock)
        self.loop.remove_writer(sock)
        if self._misc:
            self._misc.cancel()

    def _want_write(self, _c, _u, sock):
        self.loop.add_writer(sock, self.client.loop_write)

    def _no_write(self, _c, _u, sock):
        self.loop.remove_writer(sock)

    def _tick(self):
        if self.client.loop_misc() == paho.MQTT_ERR_SUCCESS:
            self._misc = self.loop.call_later(1, self._tick)

    # --- protocol callbacks ---------------------------------------------------------------------
    def _on_connect(self, _c, _u, _flags, reason_code, _props):
        if self._connected and not self._connected.done():
            if reason_code.is_failure:
                self._connected.set_exception(ConnectionError(str(reason_code)))
            else:
                self.is_connected = True
                self._connected.set_result(True)

    def _on_disconnect(self, _c, _u, _flags, reason_code, _props):
        was = self.is_connected
        self.is_connected = False
        if was and reason_code.value != 0 and self.on_lost:
            self.on_lost()

    def _on_subscribe(self, _c, _u, mid, _codes, _props):
        fut = self._subacks.pop(mid, None)
        if fut and not fut.done():
            fut.set_result(True)

    # --- API --------------------------------------------------------------------------------------
    async def connect(self, timeout: float = 10) -> None:
        """Open the TCP connection and wait for CONNACK."""
        cfg = mqtt.parse_url(self.url)
        self._connected = self.loop.create_future()
        self.client.connect(cfg["host"], cfg["port"], keepalive=60)
        await asyncio.wait_for(self._connected, timeout)

    async def subscribe(self, topic: str, qos: int = 1, timeout: float = 10) -> None:
        """Subscribe and wait for SUBACK."""
        rc, mid = self.client.subscribe(topic, qos)
        if rc != paho.MQTT_ERR_SUCCESS:
            raise ConnectionError(f"subscribe failed: {rc}")
        fut = self._subacks[mid] = self.loop.create_future()
        await asyncio.wait_for(fut, timeout)

    def publish(self, topic: str, payload: bytes, qos: int) -> None:
        """Queue a message (paho writes it when the socket is writable)."""
        self.client.publish(topic, payload, qos)

    def disconnect(self) -> None:
        """Close cleanly (a device going down to reboot)."""
        self.is_connected = False
        self.client.disconnect()
