"""The retry policy: whether a failed attempt is tried again, and after how long."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import PermanentProviderError, ProviderError


@dataclass(frozen=True)
class Decision:
    """What to do after a failed attempt: retry after `delay_ms`, or fail for good."""

    retry: bool
    delay_ms: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """Linear backoff (`base_ms × attempts`) within the job's attempt budget."""

    base_ms: int = 1000

    def delay_ms(self, attempts: int) -> int:
        """The wait before the next try, after `attempts` tries have started."""
        return self.base_ms * attempts

    def decide(self, error: ProviderError, attempts: int, max_attempts: int) -> Decision:
        """Retry transient failures while attempts remain; fail permanent ones at once."""
        if isinstance(error, PermanentProviderError) or attempts >= max_attempts:
            return Decision(retry=False)
        return Decision(retry=True, delay_ms=self.delay_ms(attempts))
