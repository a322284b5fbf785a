"""The demo's real input files, fetched once into instance/cache/ with the ordinary package clients.

- a device firmware image Debian ships: firmware-ath9k-htc's lib/firmware/ath9k_htc/htc_9271-1.4.0.fw
  (the Atheros AR9271 USB Wi-Fi firmware), fetched with `apt-get download` and unpacked with
  `dpkg-deb -x`, so no root and no install are needed;
- a real release archive: the sdist of tencent-iot-device 1.0.0 from PyPI (`pip download`).
"""
import shutil
import subprocess
import sys
from pathlib import Path

ATH9K_PACKAGE = "firmware-ath9k-htc"
ATH9K_FILE = "htc_9271-1.4.0.fw"
SDIST_SPEC = "tencent-iot-device==1.0.0"
SDIST_FILE = "tencent-iot-device-1.0.0.tar.gz"


class InputError(RuntimeError):
    """A real input file could not be fetched; the message says what to do."""


def _run(cmd: list[str], cwd: Path, what: str) -> None:
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise InputError(f"{what} failed: {e}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip()[-1500:]
        raise InputError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def ath9k_firmware(cache: Path) -> Path:
    """Return the path of htc_9271-1.4.0.fw, downloading and unpacking Debian's package if needed."""
    root = cache / ATH9K_PACKAGE
    found = sorted(root.rglob(ATH9K_FILE)) if root.exists() else []
    if found:
        return found[0]
    for tool in ("apt-get", "dpkg-deb"):
        if not shutil.which(tool):
            raise InputError(
                f"`{tool}` is not available, so the demo cannot fetch Debian's {ATH9K_PACKAGE} package. "
                f"On a Debian/Ubuntu machine it is there; elsewhere put the file {ATH9K_FILE} (from that "
                f"package) under {root}/ and run the demo again.")
    cache.mkdir(parents=True, exist_ok=True)
    debs = cache / "debs"
    debs.mkdir(exist_ok=True)
    # Running as root, apt warns that its sandbox user cannot write here; running as root is fine.
    _run(["apt-get", "download", "-o", "APT::Sandbox::User=root", ATH9K_PACKAGE], debs,
         f"apt-get download {ATH9K_PACKAGE} (if it says 'Unable to locate package', run `sudo apt-get update`)")
    deb = sorted(debs.glob(f"{ATH9K_PACKAGE}_*.deb"))
    if not deb:
        raise InputError(f"apt-get download {ATH9K_PACKAGE} left no .deb in {debs}")
    _run(["dpkg-deb", "-x", str(deb[-1]), str(root)], cache, f"dpkg-deb -x {deb[-1].name}")
    found = sorted(root.rglob(ATH9K_FILE))
    if not found:
        raise InputError(f"{deb[-1].name} does not contain {ATH9K_FILE}")
    return found[0]


def sdk_sdist(cache: Path) -> Path:
    """Return the path of tencent-iot-device-1.0.0.tar.gz, downloading it from PyPI if needed."""
    path = cache / SDIST_FILE
    if path.exists() and path.stat().st_size:
        return path
    cache.mkdir(parents=True, exist_ok=True)
    _run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--no-binary", ":all:", SDIST_SPEC,
          "-d", str(cache)], cache, f"pip download {SDIST_SPEC}")
    if not path.exists():
        raise InputError(f"pip download {SDIST_SPEC} did not produce {path}")
    return path


def deb_name(cache: Path) -> str:
    """Return the file name of the downloaded firmware-ath9k-htc package (for the summary)."""
    debs = sorted((cache / "debs").glob(f"{ATH9K_PACKAGE}_*.deb"))
    return debs[-1].name if debs else ATH9K_PACKAGE
