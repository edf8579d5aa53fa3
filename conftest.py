"""Root conftest: kept thin. The plugin (markers, options, fixtures, gating) is pytest_t2v_energy.plugin,
registered through the ``pytest11`` entry point of the installed package."""
