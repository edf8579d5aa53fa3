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

NOISY_CONFTEST = """
import os
import random
import time
import pytest
from t2v_energy_lib.energy import GpuWindow, HostWindow, Measurement

# SYNTHETIC GPU energies: 10 J per window x FAKE_ENERGY_FACTOR, with Gaussian noise of FAKE_ENERGY_NOISE
# (relative standard deviation; 0.01 = 1 %, the per-round noise of a GPU denoiser step), seeded per test.
FACTOR = float(os.environ.get("FAKE_ENERGY_FACTOR", "1"))
NOISE = float(os.environ.get("FAKE_ENERGY_NOISE", "0.01"))
SEED = int(os.environ.get("FAKE_ENERGY_SEED", "0"))

class NoisyMeter:
    description = "noisy fake meter (SYNTHETIC energies)"
    gpu = None

    def __init__(self, seed):
        self.count, self.started, self.random = 0, {}, random.Random(seed)

    def begin_window(self, key):
        self.started[key] = time.perf_counter()

    def end_window(self, key):
        duration_s = time.perf_counter() - self.started.pop(key)
        energy_j = 10.0 * FACTOR * (1.0 + self.random.gauss(0.0, NOISE))
        self.count += 1
        gpu = GpuWindow(key=key, start_unix_s=0.0, duration_s=duration_s, gpu_energy_j={0: energy_j},
                        gpu_energy_above_idle_j=None, mean_power_w={0: energy_j / duration_s},
                        source="counter", short_window=False, states={})
        host = HostWindow(duration_s=duration_s, cpu_energy_j=0.0, ram_energy_j=0.0, estimated=False,
                          method="synthetic")
        return Measurement(key=key, duration_s=duration_s, gpu=gpu, host=host)

@pytest.fixture
def energy_meter(request):
    return NoisyMeter(SEED * 1000 + sum(map(ord, request.node.name)))
"""
