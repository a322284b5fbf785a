"""`make run`: start embedded Redis and Mosquitto when not configured, migrate, then web, worker, gateway."""
import signal
import sys
import time

from ota.runtime import services
from ota.runtime.stack import Stack


def main() -> int:
    """Start everything and supervise it until Ctrl-C."""
    stack = Stack()
    try:
        stack.start_services()
    except services.ServiceError as e:
        print(f"error: {e}", file=sys.stderr)
        stack.stop()
        return 1
    created = stack.prepare()
    if created:
        print(f"\n  First admin created. username: {created[0]}  password: {created[1]}\n"
              f"  (also saved to {stack.instance / 'admin-credentials.txt'})\n")
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    try:
        stack.start_all()
        print(f"\n  OTA console: {stack.url}   (Ctrl-C stops everything)\n")
        while not stopping and stack.supervise_once():
            time.sleep(0.5)
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
