"""``python -m t2v_energy_lib`` runs the CLI."""

import sys

from t2v_energy_lib.cli import main

sys.exit(main())
