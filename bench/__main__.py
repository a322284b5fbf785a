"""`make bench`: run every benchmark (or those named: `python -m bench upload ingest`)."""
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent


def main(argv: list[str]) -> int:
    """Run the benchmarks one after another; each prints its own table."""
    wanted = set(argv[1:])
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not wanted or p.stem[6:] in wanted)
    failed = []
    for script in scripts:
        print(f"\n=== {script.stem} ===", flush=True)
        t0 = time.monotonic()
        rc = subprocess.run([sys.executable, "-m", f"bench.{script.stem}"], cwd=HERE.parent).returncode
        print(f"--- {script.stem}: exit {rc} in {time.monotonic() - t0:.1f} s", flush=True)
        if rc:
            failed.append(script.stem)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
