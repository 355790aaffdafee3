"""The floors of the import graph hold (ARCHITECTURE.md): a module imports only its own floor or
lower ones, function-level imports included, and no two modules import each other in a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

FLOORS = {  # package → the floor it is on (a module imports only its own floor or lower ones)
    "deeprestore": 0,
    "deeprestore.metrics": 0,
    "deeprestore.nets": 0,
    "deeprestore.atomic_io": 0,
    "deeprestore.image_checks": 0,
    "deeprestore.cli_options": 0,
    "deeprestore.cli_errors": 0,
    "deeprestore.checkpoint_files": 0,
    "deeprestore.precision": 0,
    "datamodules": 0,
    "deeprestore.priors": 1,
    "deeprestore.restoration": 1,
    "deeprestore.inversion": 2,
    "deeprestore.inverters": 2,
    "deeprestore.generative": 2,
    "deeprestore.stats": 2,
    "deeprestore.linear_inverse": 2,
    "deeprestore.sampling": 2,
    "deeprestore.training": 3,
    "deeprestore.studies": 3,
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every module imported anywhere in the file (function-level imports included)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            package = _module_name(path).split(".")
            package = package[: len(package) - node.level + (1 if path.name == "__init__.py" else 0)]
            found.add(".".join(package + ([node.module] if node.module else [])))
    return {name for name in found if name.split(".")[0] in ("deeprestore", "datamodules")}


def _floor(module: str) -> int | None:
    return next(
        (
            floor
            for prefix, floor in sorted(FLOORS.items(), key=lambda kv: -len(kv[0]))
            if module == prefix or module.startswith(prefix + ".")
        ),
        None,
    )


def test_each_module_imports_only_its_floor_or_lower_ones():
    files = sorted([*(ROOT / "deeprestore").rglob("*.py"), *(ROOT / "datamodules").rglob("*.py")])
    upward = []
    for path in files:
        module = _module_name(path)
        own = _floor(module)
        assert own is not None, f"{module} is on no floor: add its package to FLOORS and ARCHITECTURE.md"
        upward += [f"{module} → {name}" for name in _imports(path) if (_floor(name) or 0) > own]
    assert not upward, upward
    metrics = [name for path in (ROOT / "deeprestore" / "metrics").rglob("*.py") for name in _imports(path)]
    assert all(
        n.startswith(("deeprestore.metrics", "deeprestore.atomic_io", "deeprestore.image_checks", "deeprestore.precision")) for n in metrics
    ), metrics


def test_no_import_cycle_between_modules():
    files = sorted([*(ROOT / "deeprestore").rglob("*.py"), *(ROOT / "datamodules").rglob("*.py")])
    graph = {_module_name(p): _imports(p) for p in files}
    modules = set(graph)
    graph = {m: {n for n in deps if n in modules and n != m} for m, deps in graph.items()}
    # a package's __init__ re-exporting its modules is not a cycle; drop edges from a module to its own package
    graph = {m: {n for n in deps if not m.startswith(n + ".")} for m, deps in graph.items()}
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in graph[node]:
            if state.get(nxt) == 1:
                raise AssertionError("import cycle: " + " → ".join(path[path.index(nxt) :] + [nxt]) if nxt in path else nxt)
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
