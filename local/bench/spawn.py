"""A `wavecom worker` (or `wavecom webhooks`) the bench starts for itself, known and stopped by
its pid."""

from __future__ import annotations

import collections
import signal
import subprocess
import sys
import threading
from types import TracebackType
from typing import Self

from local.bench.target import TargetError

CONSUMING = {"worker": '"worker consuming"', "webhooks": '"webhooks consuming"'}  # the log line once it consumes
STOP_GRACE_S = 15.0


class SpawnedWorker:
    """`python -m local.cli <role>` (worker, webhooks) with `env`; `start` returns once it consumes.

    Its stderr (JSON log lines) is read on a thread to the end, so the pipe never fills and
    stalls it; the last lines are kept to explain a worker that exits early.
    """

    def __init__(self, env: dict[str, str], ready_timeout_s: float = 120.0, role: str = "worker") -> None:
        self._env = env
        self.role = role
        self._ready_timeout_s = ready_timeout_s
        self.consuming = threading.Event()  # set at its "worker consuming" line, or when it exits
        self.exited = False
        self.last_lines: collections.deque[str] = collections.deque(maxlen=20)
        self._proc: subprocess.Popen[str] | None = None
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The worker's pid."""
        assert self._proc is not None, "not started"
        return self._proc.pid

    def start(self) -> None:
        """Start the worker and wait for its "worker consuming" line; TargetError if it exits
        or stays silent instead."""
        self._proc = subprocess.Popen([sys.executable, "-m", "local.cli", self.role], env=self._env,
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      text=True, errors="replace")
        self._reader = threading.Thread(target=self._read, name="bench-worker-log", daemon=True)
        self._reader.start()
        if not self.consuming.wait(self._ready_timeout_s) or self.exited:
            self.stop()
            said = " | ".join(self.last_lines)[-1500:]
            raise TargetError(f"the bench's {self.role} did not start consuming within {self._ready_timeout_s:.0f} s: {said}")

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in self._proc.stderr:
            self.last_lines.append(line.rstrip())
            if CONSUMING[self.role] in line:
                self.consuming.set()
        self.exited = True  # its stderr closed: it is exiting
        self.consuming.set()  # whoever waits, stop waiting

    def stop(self) -> int | None:
        """SIGTERM, a grace period to finish what it holds, then SIGKILL; its exit code."""
        proc = self._proc
        if proc is None:
            return None
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        return proc.returncode

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()
