"""Host CPU and RAM energy: measured through RAPL where readable, otherwise an ESTIMATE that says so.

RAPL (``/sys/class/powercap/intel-rapl:*``): ``package-N`` domains give CPU energy and ``dram`` domains RAM
energy, from ``energy_uj`` counters that wrap at ``max_energy_range_uj`` (one wrap per window is corrected; a
window longer than a full wrap period, tens of minutes at typical package power, would undercount). ``core``,
``uncore`` and ``psys`` are skipped: the first two are inside the package, the last spans the platform.

Without readable RAPL (the H100 runner has no powercap at all; most systems make ``energy_uj`` root-only), the
CPU part is estimated as ``cpu_tdp_w x utilisation`` (machine-wide utilisation from ``/proc/stat``; where that
is unreadable, this process's CPU time from ``os.times``), and the RAM part as ``ram_w_per_gb x installed
GB``. The defaults follow CodeCarbon (mlco2/codecarbon): ``POWER_CONSTANT = 85`` W, its TDP for CPUs missing
from its table (codecarbon/external/hardware.py), and ``power_per_GB = 3 / 8`` W/GB, "3 watts of power for
every 8GB of DDR3 or DDR4 memory" (codecarbon/external/ram.py up to 2.x; 3.x models power per DIMM instead).
GB here is GiB (1024^3 bytes), as CodeCarbon's ``B_TO_GB``. Estimates are flagged in every
:class:`HostWindow`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from t2v_energy_lib.energy.clock import Clock, RealClock
from t2v_energy_lib.energy.measurements import HostWindow
from t2v_energy_lib.errors import MeasurementWindowError
from t2v_energy_lib.units import bytes_to_gib, uj_to_j

DEFAULT_CPU_TDP_W = 85.0  # CodeCarbon's POWER_CONSTANT (W) for CPUs it cannot identify
DEFAULT_RAM_W_PER_GB = 3.0 / 8.0  # CodeCarbon <= 2.x: 3 W per 8 GB of DDR3/DDR4


@dataclass(frozen=True)
class RaplDomain:
    """One readable RAPL counter. ``kind`` is ``"cpu"`` (package) or ``"ram"`` (dram)."""

    path: Path
    name: str
    kind: str
    max_energy_range_uj: int

    def read_uj(self) -> int:
        """Current counter value. Units: uJ."""
        return int((self.path / "energy_uj").read_text().strip())


def rapl_delta_uj(start_uj: int, end_uj: int, max_energy_range_uj: int) -> int:
    """Counter difference with one wrap at ``max_energy_range_uj`` corrected. Units: uJ."""
    return end_uj - start_uj if end_uj >= start_uj else end_uj + max_energy_range_uj - start_uj


def find_rapl_domains(powercap_root: Path) -> list[RaplDomain]:
    """Readable package and dram RAPL domains under ``powercap_root`` (empty list if none are readable).

    A kind (cpu or ram) is only used when every domain of that kind is readable; a partial set would
    undercount.
    """
    found: list[RaplDomain] = []
    unreadable: set[str] = set()
    for path in sorted(powercap_root.glob("intel-rapl:*")):
        try:
            name = (path / "name").read_text().strip()
        except OSError:
            continue
        kind = "cpu" if name.startswith("package") else "ram" if name == "dram" else None
        if kind is None:
            continue
        try:
            domain = RaplDomain(path, name, kind, int((path / "max_energy_range_uj").read_text().strip()))
            domain.read_uj()
        except (OSError, ValueError):
            unreadable.add(kind)
            continue
        found.append(domain)
    return [d for d in found if d.kind not in unreadable]


def read_proc_stat(path: Path) -> tuple[float, float] | None:
    """``(busy, total)`` jiffies of the aggregate ``cpu`` line of /proc/stat, or None if unreadable."""
    try:
        first = path.read_text().splitlines()[0].split()
    except (OSError, IndexError):
        return None
    if not first or first[0] != "cpu":
        return None
    fields = [float(x) for x in first[1:9]]  # user nice system idle iowait irq softirq steal
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0.0)
    total = sum(fields)
    return total - idle, total


def installed_ram_gib(meminfo_path: Path) -> float:
    """Installed RAM from /proc/meminfo (MemTotal, KiB), else sysconf. Units: GiB."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in meminfo_path.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return bytes_to_gib(float(line.split()[1]) * 1024)
    return bytes_to_gib(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


@dataclass
class HostWindowHandle:
    """What ``HostMeter.window`` yields; ``result`` is filled when the block exits."""

    key: str
    result: HostWindow | None = None


@dataclass(frozen=True)
class _Snapshot:
    t_s: float
    rapl_uj: dict[Path, int]
    proc_stat: tuple[float, float] | None
    process_cpu_s: float


class HostMeter:
    """Measures (RAPL) or estimates (TDP x utilisation, W/GB x RAM) host CPU and RAM energy over windows.

    Args:
        cpu_tdp_w: Total TDP of all CPU sockets, for the estimate. Units: W.
        ram_w_per_gb: RAM power per GiB installed, for the estimate. Units: W/GiB.
        prefer_rapl: False forces the estimate even where RAPL is readable.
        powercap_root: Where RAPL lives.
        proc_stat_path: Machine-wide CPU times.
        meminfo_path: Installed memory.
        clock: None = :class:`RealClock`.
    """

    def __init__(
        self,
        cpu_tdp_w: float = DEFAULT_CPU_TDP_W,
        ram_w_per_gb: float = DEFAULT_RAM_W_PER_GB,
        prefer_rapl: bool = True,
        powercap_root: str | Path = "/sys/class/powercap",
        proc_stat_path: str | Path = "/proc/stat",
        meminfo_path: str | Path = "/proc/meminfo",
        clock: Clock | None = None,
    ) -> None:
        self.cpu_tdp_w = cpu_tdp_w
        self.ram_w_per_gb = ram_w_per_gb
        self.clock: Clock = clock if clock is not None else RealClock()
        self.proc_stat_path = Path(proc_stat_path)
        self.domains = find_rapl_domains(Path(powercap_root)) if prefer_rapl else []
        self.ram_gib = installed_ram_gib(Path(meminfo_path))
        self._open: dict[str, _Snapshot] = {}

    @property
    def cpu_measured(self) -> bool:
        """Whether CPU energy comes from RAPL."""
        return any(d.kind == "cpu" for d in self.domains)

    @property
    def ram_measured(self) -> bool:
        """Whether RAM energy comes from RAPL."""
        return any(d.kind == "ram" for d in self.domains)

    @property
    def description(self) -> str:
        """One line saying what is measured and what is estimated."""
        cpu = "RAPL" if self.cpu_measured else f"ESTIMATE ({self.cpu_tdp_w} W TDP x utilisation)"
        ram = "RAPL" if self.ram_measured else f"ESTIMATE ({self.ram_w_per_gb} W/GB x {self.ram_gib:.1f} GB)"
        return f"host CPU: {cpu}; RAM: {ram}"

    def _snapshot(self) -> _Snapshot:
        times = os.times()
        return _Snapshot(
            t_s=self.clock.monotonic_s(),
            rapl_uj={d.path: d.read_uj() for d in self.domains},
            proc_stat=read_proc_stat(self.proc_stat_path),
            process_cpu_s=times.user + times.system,
        )

    def begin_window(self, key: str) -> None:
        """Open window ``key``. Raises MeasurementWindowError if it is already open."""
        if key in self._open:
            raise MeasurementWindowError(f"host window {key!r} is already open; end it or use another key")
        self._open[key] = self._snapshot()

    def end_window(self, key: str) -> HostWindow:
        """Close window ``key`` and return its energy. Raises MeasurementWindowError if it is not open."""
        if key not in self._open:
            raise MeasurementWindowError(f"host window {key!r} was never begun; call begin_window first")
        start, end = self._open.pop(key), self._snapshot()
        duration_s = end.t_s - start.t_s
        cpu_j, cpu_method = (
            self._rapl_j(start, end, "cpu") if self.cpu_measured else self._cpu_estimate(start, end)
        )
        if self.ram_measured:
            ram_j, ram_method = self._rapl_j(start, end, "ram")
        else:
            ram_w = self.ram_w_per_gb * self.ram_gib
            ram_j = ram_w * duration_s
            ram_method = f"estimate({self.ram_w_per_gb} W/GB x {self.ram_gib:.2f} GB)"
        return HostWindow(
            duration_s=duration_s,
            cpu_energy_j=cpu_j,
            ram_energy_j=ram_j,
            estimated=not (self.cpu_measured and self.ram_measured),
            method=f"cpu={cpu_method};ram={ram_method}",
            cpu_estimated=not self.cpu_measured,
            ram_estimated=not self.ram_measured,
        )

    @contextlib.contextmanager
    def window(self, key: str) -> Iterator[HostWindowHandle]:
        """Context manager; the yielded handle's ``result`` is the :class:`HostWindow` after the block."""
        handle = HostWindowHandle(key)
        self.begin_window(key)
        try:
            yield handle
        finally:
            handle.result = self.end_window(key)

    def _rapl_j(self, start: _Snapshot, end: _Snapshot, kind: str) -> tuple[float, str]:
        domains = [d for d in self.domains if d.kind == kind]
        total_uj = sum(
            rapl_delta_uj(start.rapl_uj[d.path], end.rapl_uj[d.path], d.max_energy_range_uj) for d in domains
        )
        return uj_to_j(total_uj), "rapl(" + ",".join(d.name for d in domains) + ")"

    def _cpu_estimate(self, start: _Snapshot, end: _Snapshot) -> tuple[float, str]:
        duration_s = end.t_s - start.t_s
        if start.proc_stat is not None and end.proc_stat is not None:
            busy = end.proc_stat[0] - start.proc_stat[0]
            total = end.proc_stat[1] - start.proc_stat[1]
            utilisation, source = (busy / total if total > 0 else 0.0), "/proc/stat"
        else:
            cpus = os.cpu_count() or 1
            used_s = end.process_cpu_s - start.process_cpu_s
            utilisation = used_s / (duration_s * cpus) if duration_s > 0 else 0.0
            source = "os.times(this process)"
        utilisation = min(max(utilisation, 0.0), 1.0)
        cpu_j = self.cpu_tdp_w * utilisation * duration_s
        return cpu_j, f"estimate({self.cpu_tdp_w} W TDP x utilisation {utilisation:.4f} from {source})"
