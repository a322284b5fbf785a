"""The device side: the Tencent-compatible MQTT OTA protocol, the gateway, downloads, the simulator."""
