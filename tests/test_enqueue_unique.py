"""enqueue_unique when the old job vanishes between reading it and reading its status (found by `make demo`)."""
from ota.jobs import get_queue
from ota.jobs.tasks import enqueue_unique


def _noop() -> None:
    """A job body that is never run here."""


def test_a_job_whose_status_is_gone_is_replaced_not_a_500(app):
    q = get_queue()
    assert enqueue_unique(q, _noop, "h7-race", result_ttl=0)
    # What RQ leaves for a moment while it deletes a finished result_ttl=0 job: the hash without its status.
    q.connection.hdel("rq:job:h7-race", "status")
    assert enqueue_unique(q, _noop, "h7-race", result_ttl=0)
    assert q.connection.hget("rq:job:h7-race", "status") == b"queued"
