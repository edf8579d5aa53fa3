"""Diffusers versions: the version matrix, an isolated environment per version, and the history runner.

:mod:`.matrix` declares the versions once (tox environments are generated from it by :mod:`.toxgen`);
:mod:`.env` installs a version into its own ``--target``-style folder from a local wheelhouse; :mod:`.history`
runs a benchmark selection under each version (one subprocess per version and round) and :mod:`.bisect`
finds the release that changed a figure. Nothing here touches a GPU at import.
"""
