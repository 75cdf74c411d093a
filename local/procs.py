"""The processes of the stack, found in /proc, and the CPU time each has used.

CPU is read from `/proc/<pid>/stat` (utime + stime, in clock ticks) before and after a run.
One request costs far less than a 10 ms tick, so its cost is read from the nanoseconds each of
the process's threads has run (`/proc/<pid>/task/*/schedstat`, first field). A process is known
by its pid and its start time, so a pid the kernel hands to another
process in between is never taken for the same one. Linux only: elsewhere nothing is found.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
TICKS_PER_S = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Stat:
    """What the bench reads of one /proc/<pid>/stat line."""

    pid: int
    ppid: int
    ticks: int  # utime + stime
    started: int  # ticks after boot: with the pid, names the process


def parse_stat(line: str) -> Stat:
    """Read a /proc/<pid>/stat line. The command name (field 2) may hold spaces and
    parentheses, so the fields are counted from its last closing parenthesis."""
    head, _, tail = line.rpartition(")")
    fields = tail.split()  # fields[0] is field 3, the state
    return Stat(pid=int(head.split("(", 1)[0]), ppid=int(fields[1]), ticks=int(fields[11]) + int(fields[12]),
                started=int(fields[19]))


def stat(pid: int | str) -> Stat | None:
    """The stat of a process, or None when it is gone."""
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text())
    except (OSError, ValueError, IndexError):
        return None


@dataclass(frozen=True)
class Process:
    """A running process: its ids and its command line."""

    pid: int
    ppid: int
    argv: tuple[str, ...]


def processes() -> Iterator[Process]:
    """Every process this user may see, with its command line."""
    if not PROC.is_dir():
        return
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        found = stat(entry.name)
        if found is not None:
            yield Process(found.pid, found.ppid, tuple(a for a in argv if a))


def environ(pid: int, names: Iterable[str]) -> dict[str, str] | None:
    """Only the variables `names` of a process's environment (never its keys or credentials);
    None when it cannot be read."""
    wanted = frozenset(names)
    try:
        raw = (PROC / str(pid) / "environ").read_bytes().decode(errors="replace")
    except OSError:
        return None
    pairs = (item.partition("=") for item in raw.split("\0") if "=" in item)
    return {k: v for k, _, v in pairs if k in wanted}


def with_descendants(roots: Iterable[int], table: Iterable[Process]) -> list[int]:
    """`roots` and every process below them (Granian's workers below `wavecom api`, say)."""
    children: dict[int, list[int]] = {}
    for p in table:
        children.setdefault(p.ppid, []).append(p.pid)
    found: list[int] = []
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.append(pid)
            todo.extend(children.get(pid, []))
    return sorted(found)


Ticks = dict[tuple[int, int], int]  # (pid, started) -> utime + stime


def ticks(pids: Iterable[int]) -> Ticks:
    """The CPU ticks used so far by each of `pids` still running."""
    found = (stat(pid) for pid in pids)
    return {(s.pid, s.started): s.ticks for s in found if s is not None}


Runtimes = dict[tuple[int, int], int]  # (pid, started) -> nanoseconds on a CPU, all threads


def runtime_ns(pids: Iterable[int]) -> Runtimes:
    """The nanoseconds each of `pids` still running has spent on a CPU so far, all its threads."""
    found: Runtimes = {}
    for pid in pids:
        s = stat(pid)
        if s is None:
            continue
        total = 0
        try:
            tasks = list((PROC / str(pid) / "task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                total += int((task / "schedstat").read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread that ended as it was read
        found[(s.pid, s.started)] = total
    return found


def runtime_ms(before: Runtimes, after: Runtimes) -> float:
    """CPU milliseconds between two `runtime_ns` readings of one group of processes; a process
    whose total shrank (a thread ended in between) counts as nothing rather than less."""
    return sum(max(0, t - before.get(key, 0)) for key, t in after.items()) / 1e6


def parse_machine(line: str) -> tuple[int, int]:
    """(busy, all) ticks of every core together, from the first line of /proc/stat
    (`cpu user nice system idle iowait irq softirq steal ...`; guest time is inside user)."""
    user, nice, system, idle, iowait, irq, softirq, steal = (int(v) for v in line.split()[1:9])
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def machine() -> tuple[int, int] | None:
    """(busy, all) ticks of the machine so far; None where there is no /proc/stat."""
    try:
        return parse_machine((PROC / "stat").read_text().splitlines()[0])
    except (OSError, ValueError, IndexError):
        return None


def cpu_ms(before: Ticks, after: Ticks) -> float:
    """CPU milliseconds used between two readings of one group of processes. A process that
    started in between counts from zero; one that ended in between is not seen after, so
    what it used is lost (the report says how many processes each reading saw)."""
    used = sum(t - before.get(key, 0) for key, t in after.items())
    return used * 1000.0 / TICKS_PER_S
