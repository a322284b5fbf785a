"""Run many SimDevices in one asyncio loop, hand out faults, and report progress, CPU and memory."""
import asyncio
import logging
import random
import resource
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ota.devicechannel.simulator.device import FAULTS, OFFLINE, SimDevice, Timing

log = logging.getLogger("ota.simulator")


@dataclass
class FleetResult:
    """What the fleet did, for the CLI's summary and for tests."""

    devices: list[SimDevice]
    seconds: float
    cpu_seconds: float
    max_rss_mb: float

    def phases(self) -> Counter:
        return Counter(d.phase for d in self.devices)


def assign_faults(devices: list[SimDevice], counts: dict[str, int], seed: int | None = None) -> None:
    """Give `counts[fault]` distinct, randomly chosen devices each fault (one fault per device)."""
    wanted = sum(counts.get(f, 0) for f in FAULTS)
    if wanted > len(devices):
        raise ValueError(f"{wanted} faulty devices asked for, only {len(devices)} devices")
    order = list(range(len(devices)))
    random.Random(seed).shuffle(order)
    it = iter(order)
    for fault in FAULTS:
        for _ in range(counts.get(fault, 0)):
            devices[next(it)].fault = fault


def settled(devices: list[SimDevice]) -> bool:
    """Whether every device that came online has finished an upgrade attempt."""
    return all(d.phase in ("offline", "done", "failed") for d in devices)


async def _run(devices: list[SimDevice], url: str, timing: Timing, ramp: float, until: Callable[[], bool],
               duration: float | None, status_every: float, printer) -> None:
    tasks = []
    step = ramp / max(1, len(devices))
    for d in devices:  # spread the connects, like a fleet that powers on over a few seconds
        tasks.append(asyncio.create_task(d.run(url, timing), name=d.name))
        if step:
            await asyncio.sleep(step)
    started = time.monotonic()
    next_status = started + status_every
    try:
        while True:
            await asyncio.sleep(0.2)
            for t in tasks:
                if t.done() and not t.cancelled() and t.exception() is not None:
                    log.error("device %s crashed: %r", t.get_name(), t.exception())
                    tasks.remove(t)
                    break
            now = time.monotonic()
            if printer and now >= next_status:
                next_status = now + status_every
                printer(summary_line(devices))
            if until():
                break
            if duration is not None and now - started >= duration:
                break
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for d in devices:
            if getattr(d, "mqtt", None) is not None and d.mqtt.is_connected:
                d.mqtt.disconnect()
        await asyncio.sleep(0.2)  # let the DISCONNECT packets go out


def summary_line(devices: list[SimDevice]) -> str:
    """One line: how many devices are in each phase, and resumes."""
    c = Counter(d.phase for d in devices)
    resumed = sum(d.resumed for d in devices)
    parts = [f"{k} {c[k]}" for k in ("online", "downloading", "burning", "rebooting", "done", "failed",
                                     "offline", "new") if c[k]]
    return f"{len(devices)} devices: " + ", ".join(parts) + (f"; {resumed} resumed downloads" if resumed else "")


def run_fleet(devices: list[SimDevice], mqtt_url: str, timing: Timing | None = None, ramp: float = 0.0,
              exit_when_done: bool = False, duration: float | None = None, status_every: float = 5.0,
              printer=None) -> FleetResult:
    """Run the devices until they settle (exit_when_done), duration passes, or Ctrl-C."""
    timing = timing or Timing()
    until = (lambda: settled(devices)) if exit_when_done else (lambda: False)
    t0, cpu0 = time.monotonic(), time.process_time()
    try:
        asyncio.run(_run(devices, mqtt_url, timing, ramp, until, duration, status_every, printer))
    except KeyboardInterrupt:
        pass
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return FleetResult(devices, time.monotonic() - t0, time.process_time() - cpu0, rss)


__all__ = ["FleetResult", "assign_faults", "run_fleet", "settled", "summary_line", "OFFLINE"]
