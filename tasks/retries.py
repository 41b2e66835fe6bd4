"""When a failed run is tried again, and how long to wait first."""

from __future__ import annotations

import random

from tasks.live import Outcome

RETRYABLE_CODE = "task_failed"  # the task raised: cancellations and timeouts are final


def should_retry(outcome: Outcome, attempt: int, retries: int) -> bool:
    return outcome.code == RETRYABLE_CODE and attempt <= retries


def retry_delay(backoff: float, failed_attempt: int) -> float:
    """Doubles with each failed attempt, with ±25% jitter so retries of many tasks spread out."""
    return backoff * 2.0 ** (failed_attempt - 1) * random.uniform(0.75, 1.25)
