"""The retry policy: whether a failed attempt is tried again, and after how long.

Delays are rounded down to a fixed ladder of rungs, each a delay queue per lane
(`<lane>.retry.<ms>`), so however many delays are drawn the number of queues stays bounded.
Below the first rung (1 s) there is no delay queue: the message goes straight back to its lane.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from shared.errors import PermanentProviderError, ProviderError

# 1 s, 2 s, 5 s, 10 s, 30 s, 1 min, 2 min, 5 min, 15 min, 30 min, 1 h.
LADDER_MS: tuple[int, ...] = (1_000, 2_000, 5_000, 10_000, 30_000, 60_000, 120_000, 300_000, 900_000,
                              1_800_000, 3_600_000)
MAX_DOUBLINGS = 62  # past this every ceiling is the cap anyway


def rung(delay_ms: int) -> int:
    """The ladder's rung a delay is rounded down to; 0 below the first."""
    index = bisect.bisect_right(LADDER_MS, delay_ms)
    return LADDER_MS[index - 1] if index else 0


class Backoff(StrEnum):
    """How the wait grows with the attempts made."""

    LINEAR = "linear"  # base × attempts
    EXPONENTIAL = "exponential"  # a random wait up to base × 2^(attempts − 1): "full jitter"


@dataclass(frozen=True)
class Decision:
    """What to do after a failed attempt: retry after `delay_ms`, or fail for good."""

    retry: bool
    delay_ms: int = 0


@dataclass(frozen=True)
class RetryPolicy:
    """Linear or exponential backoff, capped at `max_ms` and rounded down to the ladder, within
    the job's attempt budget."""

    base_ms: int = 1000
    backoff: Backoff = Backoff.LINEAR
    max_ms: int = 300_000
    draw: Callable[[], float] = field(default=random.random, compare=False, repr=False)  # in [0, 1)

    def ceiling_ms(self, attempts: int) -> int:
        """The longest wait after `attempts` tries have started, before rounding."""
        if self.backoff is Backoff.LINEAR:
            return min(self.max_ms, self.base_ms * attempts)
        return min(self.max_ms, self.base_ms << min(max(attempts - 1, 0), MAX_DOUBLINGS))

    def delay_ms(self, attempts: int) -> int:
        """The wait before the next try, after `attempts` tries have started: a rung of the ladder."""
        ceiling = self.ceiling_ms(attempts)
        return rung(ceiling if self.backoff is Backoff.LINEAR else int(self.draw() * ceiling))

    @property
    def longest_ms(self) -> int:
        """The longest wait any retry may get: the rung of the cap."""
        return rung(self.max_ms)

    def rungs(self, max_attempts: int) -> list[int]:
        """Every delay a job with `max_attempts` may wait (0: none), shortest first."""
        ceilings = [self.ceiling_ms(n) for n in range(1, max_attempts)]
        if self.backoff is Backoff.LINEAR:
            return sorted({rung(c) for c in ceilings})
        top = max(ceilings, default=0)
        return [0, *(r for r in LADDER_MS if r < top)] if ceilings else []

    def decide(self, error: ProviderError, attempts: int, max_attempts: int) -> Decision:
        """Retry transient failures while attempts remain; fail permanent ones at once."""
        if isinstance(error, PermanentProviderError) or attempts >= max_attempts:
            return Decision(retry=False)
        return Decision(retry=True, delay_ms=self.delay_ms(attempts))
