"""What a run cost each process it can see: CPU milliseconds and store work per finished job.

A Meter reads every process group twice, before and after the measured window: CPU ticks
from /proc, and store work from the /metrics pages the group serves (the bench's own from its
process-wide counters). Speed says how fast; this says what each job took to get there.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from local import procs
from local.bench import scrape
from shared.storework import STORE_WORK, Work

WorkSource = Literal["metrics", "self", "none"]
NA = "n/a"


@dataclass(frozen=True)
class Role:
    """One process group of the stack, as the report names it."""

    name: str  # api, worker, store, broker, bench
    pids: tuple[int, ...]
    work: WorkSource = "none"  # where its store work is read: its /metrics pages, this process, nowhere
    metrics: tuple[str, ...] = ()  # its /metrics pages; none when it serves none (its work is n/a)


def bench_role() -> Role:
    """The bench itself (its own pid only: a worker it starts is a role of its own)."""
    return Role("bench", (os.getpid(),), "self")


@dataclass(frozen=True)
class Reading:
    """Every role's CPU ticks and store work at one moment."""

    at: float  # epoch seconds
    ticks: dict[str, procs.Ticks]
    work: dict[str, Work | None]  # None: could not be read
    machine: tuple[int, int] | None = None  # (busy, all) ticks of all cores: other work shows here


def plus(a: Work, b: Work) -> Work:
    """Two processes' store work together."""
    return Work(a.commands + b.commands, a.written + b.written, a.read + b.read)


def _none() -> Work:
    return Work(Counter(), Counter(), Counter())


class Meter:
    """Reads the roles' CPU and store work; `db` is the database the bench's own work is in."""

    def __init__(self, roles: Sequence[Role], db: str) -> None:
        self.roles = list(roles)
        self._db = db

    def read(self) -> Reading:
        """Every role, now."""
        at, machine = time.time(), procs.machine()
        ticks = {r.name: procs.ticks(r.pids) for r in self.roles}
        return Reading(at, ticks, {r.name: self._work(r) for r in self.roles if r.work != "none"}, machine)

    def _work(self, role: Role) -> Work | None:
        if role.work == "self":
            return STORE_WORK.snapshot(self._db)
        pages = [scrape.fetch(url) for url in role.metrics]
        if not pages or any(p is None for p in pages):
            return None
        total = _none()
        for page in pages:
            total = plus(total, page or _none())
        return total


def _per(value: float, jobs: int) -> float:
    return round(value / jobs, 4) if jobs else 0.0


def work_per_job(work: Work, jobs: int) -> dict[str, Any]:
    """Store work of a window, counted and divided by the jobs finished in it."""
    return {
        "commandsPerJob": _per(sum(work.commands.values()), jobs),
        "writtenPerJob": {c: _per(n, jobs) for c, n in sorted(work.written.items()) if n},
        "readPerJob": {c: _per(n, jobs) for c, n in sorted(work.read.items()) if n},
        "counts": {"commands": dict(sorted(work.commands.items())), "written": dict(sorted(work.written.items())),
                   "read": dict(sorted(work.read.items()))},
    }


def cost(roles: Sequence[Role], before: Reading, after: Reading, jobs: int) -> dict[str, Any]:
    """The report's cost section: per role, CPU ms per job and store work per job (None where
    a figure could not be read), the store work of all of them, and how busy the cores were."""
    seconds = max(after.at - before.at, 1e-9)
    per_role: dict[str, Any] = {}
    cpu_total, total, missing = 0.0, _none(), []
    for role in roles:
        seen = len(after.ticks[role.name])
        ms = procs.cpu_ms(before.ticks[role.name], after.ticks[role.name]) if seen else None
        cpu_total += ms or 0.0
        entry: dict[str, Any] = {"processes": seen, "cpuMs": None if ms is None else round(ms, 1),
                                 "cpuMsPerJob": None if ms is None else _per(ms, jobs)}
        if role.work != "none":
            then, now = before.work.get(role.name), after.work.get(role.name)
            window = now - then if then is not None and now is not None else None
            entry["storeWork"] = None if window is None else work_per_job(window, jobs)
            if window is None:
                missing.append(role.name)
            else:
                total = plus(total, window)
        per_role[role.name] = entry
    cpus = os.cpu_count() or 1
    machine = None
    if before.machine and after.machine and after.machine[1] > before.machine[1]:
        machine = round((after.machine[0] - before.machine[0]) / (after.machine[1] - before.machine[1]), 3)
    return {
        "jobs": jobs,
        "seconds": round(seconds, 3),
        "processes": per_role,
        "storeWork": {**work_per_job(total, jobs), "unread": missing},
        "cpuMsTotal": round(cpu_total, 1),
        "coresBusy": round(cpu_total / 1000 / seconds / cpus, 3),
        "machineBusy": machine,  # every process's share, the measured ones' and any other work's
    }


def _n(value: float | None, digits: int = 2) -> str:
    return NA if value is None else f"{value:,.{digits}f}"


def _docs(figures: dict[str, float]) -> str:
    return ", ".join(f"{c} {n:.3f}" for c, n in figures.items()) or "0"


def rows(section: dict[str, Any]) -> list[tuple[str, str]]:
    """The summary table's lines for a cost section."""
    procs_ = section["processes"]
    cpu = ", ".join(f"{name} {_n(p['cpuMsPerJob'])}" + (f" ({p['processes']} processes)" if p["processes"] > 1 else "")
                    for name, p in procs_.items())
    machine = "" if section.get("machineBusy") is None else f" (all processes: {section['machineBusy']:.0%})"
    out = [("CPU ms per job", f"{cpu}; cores {section['coresBusy']:.0%} busy{machine} over {section['seconds']:.1f} s")]
    for name, p in procs_.items():
        if "storeWork" not in p:
            continue
        w = p["storeWork"]
        text = NA if w is None else (f"{w['commandsPerJob']:.3f} commands, written {_docs(w['writtenPerJob'])}; "
                                     f"read {_docs(w['readPerJob'])}")
        out.append((f"store per job: {name}", text))
    total = section["storeWork"]
    unread = f" (without {', '.join(total['unread'])}: n/a)" if total["unread"] else ""
    out.append(("store per job: all", (f"{total['commandsPerJob']:.3f} commands, written {_docs(total['writtenPerJob'])}; "
                f"read {_docs(total['readPerJob'])}{unread}")))
    return out
