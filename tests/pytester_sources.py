"""Source text of conftest files that plugin tests write into pytester sessions (shared, not collected)."""

SCRIPTED_CONFTEST = """
import time
import pytest
from t2v_energy_lib.energy import GpuWindow, HostWindow, Measurement

ENERGY_J = (2.0, 2.02, 1.98)  # SYNTHETIC per-window GPU energies, cycled

class ScriptedMeter:
    description = "scripted fake meter (SYNTHETIC energies)"
    gpu = None

    def __init__(self):
        self.count, self.started = 0, {}

    def begin_window(self, key):
        self.started[key] = time.perf_counter()

    def end_window(self, key):
        duration_s = time.perf_counter() - self.started.pop(key)
        energy_j = ENERGY_J[self.count % len(ENERGY_J)]
        self.count += 1
        gpu = GpuWindow(key=key, start_unix_s=0.0, duration_s=duration_s, gpu_energy_j={0: energy_j},
                        gpu_energy_above_idle_j=None, mean_power_w={0: energy_j / duration_s},
                        source="counter", short_window=False, states={})
        host = HostWindow(duration_s=duration_s, cpu_energy_j=0.0, ram_energy_j=0.0, estimated=False,
                          method="synthetic")
        return Measurement(key=key, duration_s=duration_s, gpu=gpu, host=host)

@pytest.fixture
def energy_meter():
    return ScriptedMeter()
"""
