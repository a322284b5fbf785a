"""A simulated fleet: N virtual Tencent-SDK-like devices in one process (`flask ota simulate`)."""
from ota.devicechannel.simulator.device import FAULTS, SimDevice, Timing, credentials
from ota.devicechannel.simulator.fleet import FleetResult, assign_faults, run_fleet, settled, summary_line

__all__ = ["FAULTS", "SimDevice", "Timing", "credentials", "FleetResult", "assign_faults", "run_fleet",
           "settled", "summary_line"]
