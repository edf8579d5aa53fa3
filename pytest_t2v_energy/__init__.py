"""pytest plugin for t2v-energy (thin glue over t2v_energy_lib)."""
