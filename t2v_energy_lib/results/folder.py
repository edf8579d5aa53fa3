"""A result set loaded once and indexed: :class:`ResultFolder`, what the analysis and the report receive.

``ResultFolder.open(results)`` takes a path (a result file or a folder of them), a loaded
:class:`~t2v_energy_lib.results.ResultFile` or a folder already open, and reads files at most once. Its
``select`` answers from an index by suite, model and component instead of scanning every record, and it
keeps the ``ResultFile`` surface (``records``, ``provenance``, ``path``, ``select``, ``by_id``) so every
function that took a ``ResultFile`` takes a folder. :func:`t2v_energy_lib.analysis.points.open_results` is
a thin wrapper over :meth:`ResultFolder.open`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from t2v_energy_lib.results.schema import ResultFile, ResultRecord

_Key = tuple[str | None, str | None, str | None]


class ResultFolder:
    """Records of one result set, indexed by ``(suite, model, component)`` and by id.

    Args:
        results: The loaded set (a ``ResultFile``, or anything with ``records``; ``provenance`` and ``path``
            are read when present).
        label: How messages name the set (default: its path, else ``"the given results"``).
    """

    def __init__(self, results: Any, label: str | None = None) -> None:
        self._results = results
        self.records: tuple[ResultRecord, ...] = tuple(results.records)
        self.provenance: Mapping[str, Any] = getattr(results, "provenance", None) or {}
        self.path: Path | None = getattr(results, "path", None)
        self.label = label or str(self.path or "the given results")
        self._index: dict[_Key, list[ResultRecord]] = {}
        for record in self.records:
            for key in _keys(record.suite, record.model, record.component):
                self._index.setdefault(key, []).append(record)

    @classmethod
    def open(cls, results: Any) -> ResultFolder:
        """The folder of ``results``: itself if already open, a loaded set wrapped, or a path loaded once.

        Args:
            results: A :class:`ResultFolder`, a ``ResultFile`` (anything with ``records`` and ``select``), or
                a path to a result file or a folder of ``*.json`` result files.

        Raises:
            BaselineFormatError: The path holds no readable result file (see ``load_results``).
        """
        if isinstance(results, ResultFolder):
            return results
        if hasattr(results, "records") and hasattr(results, "select"):
            return cls(results)
        from t2v_energy_lib.results.storage import load_results

        return cls(load_results(Path(results)), label=str(results))

    @property
    def result_file(self) -> ResultFile:
        """The set as a ``ResultFile`` (the one it was opened from, when it was one)."""
        if isinstance(self._results, ResultFile):
            return self._results
        return ResultFile(provenance=dict(self.provenance), records=self.records, path=self.path)

    def select(
        self, suite: str | None = None, model: str | None = None, component: str | None = None
    ) -> list[ResultRecord]:
        """Records matching every given filter (``None`` matches all), in file order."""
        return list(self._index.get((suite, model, component), ()))

    def by_id(self) -> dict[str, ResultRecord]:
        """Records keyed by id."""
        return {r.id: r for r in self.records}

    def suites(self) -> tuple[str, ...]:
        """Suites of the records, in first-seen order."""
        return tuple(dict.fromkeys(r.suite for r in self.records))

    def models(self, suite: str | None = None) -> tuple[str, ...]:
        """Models of the records (of ``suite`` if given), in first-seen order."""
        return tuple(dict.fromkeys(r.model for r in self.select(suite=suite)))

    def at_settings(
        self, suite: str, model: str, settings: Mapping[str, Any], component: str | None = None
    ) -> list[ResultRecord]:
        """Records of ``suite`` and ``model`` whose settings hold every item of ``settings``."""
        return [
            r
            for r in self.select(suite=suite, model=model, component=component)
            if all(r.settings.get(k) == v for k, v in settings.items())
        ]

    def __len__(self) -> int:
        return len(self.records)

    def __repr__(self) -> str:
        return f"ResultFolder({self.label!r}, {len(self.records)} records, suites {list(self.suites())})"


def _keys(suite: str, model: str, component: str) -> list[_Key]:
    """Every filter combination a record answers (each of suite, model, component given or not)."""
    return [(s, m, c) for s in (suite, None) for m in (model, None) for c in (component, None)]
