"""Column helpers shared by the models."""
from datetime import datetime, timezone


def utcnow() -> datetime:
    """Return the current time as naive UTC, the one form stored in every database."""
    return datetime.now(timezone.utc).replace(tzinfo=None)
