"""t2v-energy: measure, predict and gate the latency and energy of text-to-video diffusion pipelines.

Layers (each a subpackage, importable without touching hardware):

- ``energy``   GPU meters on NVML (counter, power-sampling fallback), host CPU/RAM energy (RAPL or estimated).
- ``models``   model specs (configs shipped as data), offline builders with random or local weights.
- ``theory``   analytic FLOP / byte model, roofline regime, latency and energy predictors.
- ``results``  the result-file schema, provenance, atomic incremental storage, baselines, comparison/gating.
- ``bench``    measurement runners: denoiser-step windows, text encoder, VAE, end-to-end, operator profile.
- ``analysis`` fits and claim checks over stored results.
- ``report``   plots and markdown summaries.

The pytest glue lives outside the library, in ``pytest_t2v_energy``.
"""

__version__ = "0.1.0"
