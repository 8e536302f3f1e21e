"""Resource limits in the units of ``docker run`` (-m, --cpu-shares, --cpus, --pids-limit): a
public convenience above the spec line. A Limits becomes the spec's linux.resources once,
by :meth:`Limits.to_resources`, with Docker's rules; nothing below turns a spec back into one.

    Limits(memory=64 << 20, cpus=0.5).to_resources()
    # Resources(memory=Memory(limit=67108864, swap=67108864), cpu=CPU(quota=50000, period=100000))

Stdlib only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..errors import InvalidArgument

MIN_MEMORY = 6 * 1024 * 1024  # Docker's minimum: "Minimum memory limit allowed is 6MB"
MIN_SHARES = 2
MAX_SHARES = 262144
CPU_PERIOD_US = 100_000  # the CFS period Docker and runc use for --cpus


@dataclass(frozen=True)
class Limits:
    """Resource limits of one container, in the units of ``docker run``."""

    memory: int | None = None  # bytes; None = unlimited
    cpu_shares: int | None = None  # relative weight, 2..262144 (v1 cpu.shares)
    cpus: float | None = None  # CPUs: 0.5 -> cfs quota 50000 per period 100000
    pids: int | None = None  # most tasks at once; None = unlimited
    cpu_period: int = CPU_PERIOD_US  # the CFS period the quota of `cpus` is taken over

    def validate(self) -> None:
        """Raise :class:`InvalidArgument` for a value that can never work."""
        if self.memory is not None:
            if not _is_int(self.memory):
                raise InvalidArgument(f"memory limit must be a number of bytes, not {self.memory!r}")
            if self.memory < MIN_MEMORY:
                raise InvalidArgument(
                    f"memory limit {self.memory} bytes is below the minimum of 6 MiB; use 6m or more"
                )
        if self.cpu_shares is not None:
            if not _is_int(self.cpu_shares) or not MIN_SHARES <= self.cpu_shares <= MAX_SHARES:
                raise InvalidArgument(
                    f"cpu shares {self.cpu_shares!r} out of range; use a whole number from "
                    f"{MIN_SHARES} to {MAX_SHARES} (1024 is the default)"
                )
        if self.cpus is not None:
            ncpu = os.cpu_count() or 1
            if (
                isinstance(self.cpus, bool)
                or not isinstance(self.cpus, (int, float))
                or not 0 < self.cpus <= ncpu
            ):
                raise InvalidArgument(
                    f"cpus {self.cpus!r} out of range; use a number above 0 and at most {ncpu} "
                    "(this host's CPU count)"
                )
        if self.pids is not None:
            if not _is_int(self.pids) or self.pids < 1:
                raise InvalidArgument(f"pids limit {self.pids!r} is invalid; use a whole number of 1 or more")

    def cpu_quota_us(self) -> int | None:
        """CFS quota in microseconds per `cpu_period`, or None when cpus is unset."""
        return None if self.cpus is None else int(round(self.cpus * self.cpu_period))

    def to_resources(self, *, swap_accounting: bool = True):
        """The spec's linux.resources for these limits, validated, by Docker's rules:
        --cpus is a CFS quota over a 100 ms period, and swap may not extend the memory limit
        (--memory-swap = --memory) where the kernel accounts swap (where it does not, Docker
        leaves swap unlimited: so does this)."""
        from .spec import CPU, Memory, Pids, Resources
        self.validate()
        memory = Memory()
        if self.memory:
            memory = Memory(limit=self.memory, swap=self.memory if swap_accounting else None)
        cpu = CPU(shares=self.cpu_shares, quota=self.cpu_quota_us(),
                  period=self.cpu_period if self.cpus is not None else None)
        return Resources(memory=memory, cpu=cpu, pids=Pids(limit=self.pids) if self.pids else Pids())


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)
