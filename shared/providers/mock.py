"""Mock providers: simulated latency and failures, and a record of what they delivered. There are
two per channel, `mock` and `mock2`, each with its own settings, so failing over from one to the
other can be tried and tested.

Conventions a user can rely on (documented in the README):
- a recipient the provider rejects fails at once, without retry: an email address whose local
  part starts with `reject` (`reject@example.com`), an SMS number ending in `0000`, a push
  token starting with `reject`;
- `metadata.mockFailures = N` makes the first N attempts of that job fail transiently and the
  next one succeed: the random failures below do not apply to such a job;
- otherwise each attempt fails transiently with probability WAVECOM_MOCK_FAILURE_RATE; with
  WAVECOM_MOCK_SEED set the outcome is a pure function of (seed, job id, attempt);
- an email to a recipient at `bounce.example.com` is sent, then bounces (a hard bounce, which
  suppresses the recipient); at `complaint.example.com` it draws a complaint (suppressed too); at
  `delivered.example.com` it is reported delivered. These receipts are SES notifications, handled
  in process by the same function as those SNS posts to `/api/receipts/sns` (shared.receipts);
- while the file named by WAVECOM_MOCK_DOWN_FILE (for `mock2`, WAVECOM_MOCK2_DOWN_FILE) exists,
  every call fails transiently: an outage, switched on and off from outside the process.
With WAVECOM_MOCK_LEDGER set, every delivery is also appended to that file as a JSON line, so
deliveries can be counted across worker processes.
"""

from __future__ import annotations

import dataclasses
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared import clock
from shared.errors import PermanentProviderError, TransientProviderError
from shared.providers.base import Provider, Receipt
from shared.snsreceipts import ses_notification

RECENT = 100_000  # deliveries a mock provider remembers
FEEDBACK_DOMAINS = {"bounce.example.com": "bounced", "complaint.example.com": "complained",
                    "delivered.example.com": "delivered"}


def rejects(channel: str, recipient: str) -> bool:
    """Whether the mock provider of `channel` permanently rejects `recipient`."""
    if channel == "email":
        return recipient.lower().startswith("reject")
    if channel == "sms":
        return recipient.endswith("0000")
    return recipient.startswith("reject")


@dataclass(frozen=True)
class Delivery:
    """One message the mock provider accepted."""

    job_id: str
    attempt: int
    message_id: str
    at: str
    provider: str = "mock"


class MockProvider(Provider):
    """A provider that sleeps, sometimes fails, and remembers every delivery."""

    def __init__(
        self,
        channel: str,
        *,
        name: str = "mock",
        latency_ms: int = 20,
        failure_rate: float = 0.1,
        seed: int | None = None,
        sleep: Callable[[float], None] = time.sleep,
        ledger: Path | None = None,
        down_file: Path | None = None,
    ) -> None:
        self.name = name
        self.channel = channel
        self.down_file = down_file
        self.latency_ms = latency_ms
        self.failure_rate = failure_rate
        self.seed = seed
        self._sleep = sleep
        self._lock = threading.Lock()
        # Ids of the latest jobs delivered only: a worker runs for months, tests look at a handful.
        self.deliveries: deque[str] = deque(maxlen=RECENT)
        self.ledger = ledger

    def _unlucky(self, job_id: str, attempt: int) -> bool:
        draw = random.random() if self.seed is None else random.Random(f"{self.seed}:{job_id}:{attempt}").random()
        return draw < self.failure_rate

    def send(
        self,
        *,
        job_id: str,
        recipient: str,
        message: str,
        metadata: Mapping[str, Any],
        attempt: int,
    ) -> Receipt:
        """Simulate one delivery attempt."""
        if self.latency_ms:
            self._sleep(self.latency_ms / 1000)
        if self.down_file is not None and self.down_file.exists():
            raise TransientProviderError(f"{self.name} {self.channel} provider is down")
        if rejects(self.channel, recipient):
            raise PermanentProviderError(f"mock {self.channel} provider rejected the recipient")
        forced = metadata.get("mockFailures")
        scripted = forced if isinstance(forced, int) and not isinstance(forced, bool) else None
        if scripted is not None and attempt <= scripted:
            raise TransientProviderError(f"mock {self.channel} provider unavailable (forced failure {attempt})")
        if scripted is None and self._unlucky(job_id, attempt):
            raise TransientProviderError(f"mock {self.channel} provider timed out")
        message_id = f"{random.getrandbits(128):032x}"
        kind = FEEDBACK_DOMAINS.get(recipient.rpartition("@")[2].lower()) if self.channel == "email" else None
        feedback = ses_notification(kind, message_id, recipient, clock.iso(clock.now())) if kind else None
        receipt = Receipt(message_id=message_id, feedback=feedback)
        with self._lock:
            self.deliveries.append(job_id)
            if self.ledger is not None:
                # One short O_APPEND write per line: several worker processes can share the file.
                delivery = Delivery(job_id, attempt, receipt.message_id, clock.iso(clock.now()), self.name)
                with self.ledger.open("a") as f:
                    f.write(json.dumps(dataclasses.asdict(delivery)) + "\n")
        return receipt

    def delivered(self, job_id: str) -> int:
        """How many times this provider delivered `job_id`."""
        with self._lock:
            return self.deliveries.count(job_id)


@dataclass(frozen=True)
class MockSettings:
    """How one mock provider behaves."""

    latency_ms: int = 20
    failure_rate: float = 0.1
    down_file: Path | None = None


def mock_provider(channel: str, name: str, mock: MockSettings, seed: int | None = None,
                  ledger: Path | None = None) -> MockProvider:
    """The mock provider `name` (`mock` or `mock2`) of a channel."""
    return MockProvider(channel, name=name, latency_ms=mock.latency_ms, failure_rate=mock.failure_rate, seed=seed,
                        ledger=ledger, down_file=mock.down_file)


def read_ledger(path: Path) -> list[Delivery]:
    """Every delivery recorded in a ledger file (job ids and attempts only, no personal data)."""
    if not path.exists():
        return []
    return [Delivery(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
