"""Background processes: `python worker.py` (an RQ worker) or `python worker.py gateway` (MQTT)."""
import sys


def main(argv: list[str]) -> int:
    """Run the role named on the command line."""
    role = argv[1] if len(argv) > 1 else "worker"
    if role == "worker":
        from ota.jobs.runner import run_worker

        run_worker(burst="--burst" in argv)
    elif role == "gateway":
        from ota.devicechannel.gateway import run_gateway

        run_gateway()
    else:
        print(f"usage: {argv[0]} [worker [--burst] | gateway]", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
