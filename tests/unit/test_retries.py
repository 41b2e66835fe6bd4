"""Which failed runs are tried again, and how long each wait is."""

from __future__ import annotations

import pytest

from tasks.live import Outcome
from tasks.retries import RETRYABLE_CODE, retry_delay, should_retry
from tasks.status import TaskStatus


def test_the_backoff_doubles_per_failed_attempt_within_a_quarter_of_jitter() -> None:
    for attempt, base in ((1, 2.0), (2, 4.0), (3, 8.0)):
        delays = [retry_delay(2.0, attempt) for _ in range(200)]
        assert all(0.75 * base <= d <= 1.25 * base for d in delays)
        assert max(delays) - min(delays) > 0.1 * base  # jittered, so many tasks do not retry in step


@pytest.mark.parametrize(
    ("code", "attempt", "retries", "expected"),
    [
        (RETRYABLE_CODE, 1, 2, True),
        (RETRYABLE_CODE, 2, 2, True),
        (RETRYABLE_CODE, 3, 2, False),  # attempts used up
        (RETRYABLE_CODE, 1, 0, False),  # retries not asked for
        ("timeout", 1, 2, False),
        ("cancelled", 1, 2, False),
        ("result_not_serializable", 1, 2, False),
    ],
)
def test_only_a_task_that_raised_is_retried_and_only_while_attempts_remain(
    code: str, attempt: int, retries: int, expected: bool
) -> None:
    assert should_retry(Outcome(TaskStatus.ERROR, error="x", code=code), attempt, retries) is expected
