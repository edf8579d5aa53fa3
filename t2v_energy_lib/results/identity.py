"""Benchmark identity that does not depend on how pytest was invoked, and alignment of older ids.

A result record's id is the key the gate matches a baseline by. pytest's node id is relative to the
session's *rootdir*, and pytest picks the rootdir from the command line:
``pytest t_bench.py --energy-baseline /abs/b.json`` (the path given as a separate argument) makes the common
ancestor of both paths the rootdir, so the same test gets ``t_bench.py::test_x`` in one run and
``tmp/user/t_bench.py::test_x`` in the next. The key chosen here:

1. **Named benchmarks** (``energy(..., suite=, model=, component=)``):
   ``suite/model/<settings id>/component``, built from the benchmark's own arguments; nothing of the
   invocation enters it.
2. **Unnamed benchmarks**: the *test key* ``<file>::<rest of the node id>``, where ``<file>`` is the test
   file's path relative to its own root and ``<rest>`` the class, function and parametrize id
   (``test_x[480x832]``). The test file's root is the nearest ancestor folder (of the file) holding
   ``pyproject.toml``, ``pytest.ini``, ``tox.ini``, ``setup.cfg``, ``setup.py`` or ``.git``; without one, the
   top of the file's package chain (the first ancestor folder without ``__init__.py``). Neither the working
   directory, nor relative/absolute paths, nor ``--opt value`` / ``--opt=value``, ``-k``/``-m`` or
   pytest-xdist change it.

Result files written before this key existed hold node ids relative to the rootdir of their session;
:func:`align_ids` matches such an id to a current one when both name the same test and one file path is a
path suffix of the other (``tmp/user/t_bench.py::test_x`` = ``t_bench.py::test_x``), only when the match is
unique.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

ROOT_MARKERS = ("pyproject.toml", "pytest.ini", "tox.ini", "setup.cfg", "setup.py", ".git")
SEPARATOR = "::"


def key_root(test_file: Path) -> Path:
    """The root a test file's key is relative to (see the module docstring).

    Args:
        test_file: The test file (any path; it is resolved).
    """
    folder = Path(test_file).resolve().parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in ROOT_MARKERS):
            return candidate
    top = folder
    while (top / "__init__.py").exists() and top.parent != top:
        top = top.parent
    return top


def benchmark_key(node_id: str, test_file: Path) -> str:
    """The invocation-independent key of a test: ``<file relative to its root>::<rest of the node id>``.

    Args:
        node_id: pytest's node id (``path::Class::name[param]``; the path part is replaced).
        test_file: The test's file.
    """
    resolved = Path(test_file).resolve()
    relative = PurePosixPath(resolved.relative_to(key_root(resolved)).as_posix())
    _, sep, rest = node_id.partition(SEPARATOR)
    return f"{relative}{SEPARATOR}{rest}" if sep else str(relative)


def is_test_key(record_id: str) -> bool:
    """True for ids that name a test (``file.py::test``), False for ``suite/model/settings/component`` ids."""
    return SEPARATOR in record_id


def _split(record_id: str) -> tuple[tuple[str, ...], str]:
    path, _, rest = record_id.partition(SEPARATOR)
    parts = tuple(p for p in PurePosixPath(path.replace("\\", "/")).parts if p not in (".", ""))
    return parts, rest


def same_test(a: str, b: str) -> bool:
    """Whether two test ids name the same test: equal ``::rest``, one path a path suffix of the other."""
    (pa, ra), (pb, rb) = _split(a), _split(b)
    if ra != rb or not pa or not pb:
        return False
    short, long = (pa, pb) if len(pa) <= len(pb) else (pb, pa)
    return long[len(long) - len(short) :] == short


def align_ids(baseline_ids: Iterable[str], current_ids: Iterable[str]) -> Mapping[str, str]:
    """Map baseline test ids absent from the current set to the one current test id naming the same test.

    Only ids that name tests (:func:`is_test_key`) take part; a baseline id that matches several current ids,
    or a current id claimed by several baseline ids, is left unmatched (reported missing/new, never guessed).

    Returns:
        baseline id -> current id, for the ids that differ only by their path prefix.
    """
    baseline = list(baseline_ids)
    taken = set(baseline)
    exact = set(current_ids)
    current = [c for c in exact if is_test_key(c) and c not in taken]
    candidates = {
        base: [c for c in current if same_test(base, c)]
        for base in baseline
        if is_test_key(base) and base not in exact
    }
    claimed: dict[str, int] = {}
    for matches in candidates.values():
        for match in matches:
            claimed[match] = claimed.get(match, 0) + 1
    return {
        base: matches[0]
        for base, matches in candidates.items()
        if len(matches) == 1 and claimed[matches[0]] == 1
    }
