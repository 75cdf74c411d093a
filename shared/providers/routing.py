"""Which provider a delivery attempt goes to, and when: each channel's providers in order, each
behind a circuit breaker, and each provider's sending rate in this process.

- A provider whose calls failed transiently `failures` times in a row is open for `cooldown_s`:
  attempts go to the next provider of the channel. After the cooldown one attempt is let through
  as a trial; its success closes the breaker, its failure opens it again. A permanent failure (the
  provider refused one recipient or message) is an answer, not an outage: it counts as a success.
  When every provider of a channel is open, the first one is used.
- A provider with a rate (sends per second, per process) hands out a token per attempt; the
  caller takes it before claiming the job, so waiting for one never eats into a lease.

The state lives in the process: each worker (each Lambda execution environment) learns of an
outage from its own calls. Not pybreaker: its `call` holds the breaker's lock for the whole
protected call, which would serialise every send through a provider, and it wraps a call where
here the provider is chosen when a job is claimed and the outcome recorded after the send.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from pyrate_limiter import Duration, Limiter, Rate

from shared.providers.base import Provider

log = logging.getLogger("wavecom.providers")
Clock = Callable[[], float]


@dataclass
class Breaker:
    """One provider's circuit breaker on one channel (thread-safe)."""

    failures_to_open: int
    cooldown_s: float
    trial_s: float  # how long a trial may stay unanswered before another is let through
    clock: Clock = time.monotonic
    failures: int = 0  # transient failures in a row
    open_until: float = 0.0
    trial_until: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def is_open(self) -> bool:
        """Whether it refuses attempts now (open, or half-open with a trial out)."""
        with self._lock:
            return self._refuses(self.clock())

    def _refuses(self, now: float) -> bool:
        if self.failures < self.failures_to_open:
            return False
        return now < self.open_until or now < self.trial_until

    def admit(self) -> bool:
        """Whether an attempt may go to this provider now; after the cooldown, the first one asking
        is the trial."""
        with self._lock:
            now = self.clock()
            if self._refuses(now):
                return False
            if self.failures >= self.failures_to_open:
                self.trial_until = now + self.trial_s
            return True

    def record(self, ok: bool) -> str | None:
        """An attempt's outcome: True for an answer (sent, or refused for good), False for a
        transient failure. Returns "opened" or "closed" when that changed the breaker."""
        with self._lock:
            was_open = self.failures >= self.failures_to_open
            if ok:
                self.failures, self.trial_until = 0, 0.0
                return "closed" if was_open else None
            self.failures += 1
            if self.failures >= self.failures_to_open:
                self.open_until, self.trial_until = self.clock() + self.cooldown_s, 0.0
                return None if was_open else "opened"
            return None


class Routing:
    """The breakers and rate limits of one process, for the providers `chains` name."""

    def __init__(self, failures_to_open: int, cooldown_s: float, rates: Mapping[str, int], *,
                 trial_s: float = 30.0, clock: Clock = time.monotonic) -> None:
        self.failures_to_open = failures_to_open
        self.cooldown_s = cooldown_s
        self.trial_s = trial_s
        self.rates = {name: rate for name, rate in rates.items() if rate > 0}
        self._clock = clock
        self._lock = threading.Lock()
        self._breakers: dict[tuple[str, str], Breaker] = {}
        self._limiters: dict[str, Limiter] = {}

    def breaker(self, channel: str, name: str) -> Breaker:
        """The breaker of provider `name` on `channel`, made on first use."""
        with self._lock:
            found = self._breakers.get((channel, name))
            if found is None:
                found = self._breakers[(channel, name)] = Breaker(self.failures_to_open, self.cooldown_s,
                                                                  self.trial_s, self._clock)
            return found

    def choose(self, channel: str, chain: Sequence[Provider]) -> Provider:
        """The provider an attempt on `channel` goes to: the first of `chain` that admits it."""
        for provider in chain:
            if self.breaker(channel, provider.name).admit():
                return provider
        return chain[0]

    def record(self, channel: str, name: str, ok: bool) -> None:
        """An attempt's outcome on provider `name` (see Breaker.record)."""
        change = self.breaker(channel, name).record(ok)
        if change == "opened":
            log.warning("provider opened after transient failures in a row", extra={
                "type": channel, "provider": name, "failures": self.failures_to_open,
                "cooldown_s": self.cooldown_s})
        elif change == "closed":
            log.info("provider closed again", extra={"type": channel, "provider": name})

    def _limiter(self, name: str) -> Limiter | None:
        rate = self.rates.get(name)
        if rate is None:
            return None
        with self._lock:  # made on first use: a limiter starts a thread
            if name not in self._limiters:
                self._limiters[name] = Limiter(Rate(rate, Duration.SECOND))
            return self._limiters[name]

    def take_token(self, name: str) -> bool:
        """Spend one of provider `name`'s sends of this second, if there is one (always, with no rate)."""
        limiter = self._limiter(name)
        return limiter is None or bool(limiter.try_acquire(name, blocking=False))

    def wait_token(self, name: str, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for one of provider `name`'s sends and spend it."""
        limiter = self._limiter(name)
        return limiter is None or bool(limiter.try_acquire(name, blocking=True, timeout=timeout_s))
