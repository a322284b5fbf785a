"""Rewrite migrations/versions/0001_initial.py from the models (`make migration`).

Only while the schema is unreleased: once a database is deployed, add migrations instead.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ROOT / "migrations" / "versions"


def main() -> int:
    """Generate the initial migration against an empty SQLite database."""
    for old in VERSIONS.glob("*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, DATABASE_URL=f"sqlite:///{tmp}/empty.db", SECRET_KEY="regen")
        subprocess.run(
            [sys.executable, "-m", "flask", "--app", "app", "db", "migrate", "-m", "initial schema",
             "--rev-id", "0001"], cwd=ROOT, env=env, check=True,
        )
    generated = next(VERSIONS.glob("0001_*.py"))
    generated.rename(VERSIONS / "0001_initial.py")
    print(f"wrote {VERSIONS / '0001_initial.py'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
