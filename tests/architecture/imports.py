"""The import graph of Rolegate's own code, read with ``ast`` (nothing is imported).

Every ``import`` counts: at module level, inside functions, under ``TYPE_CHECKING``; importing
``a.b.c`` also imports the packages ``a`` and ``a.b`` (their ``__init__`` runs), so those count as
edges too.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TOP_PACKAGES = ("apps", "awsra", "rbac", "rolegate", "sandbox")


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: dict[str, int] = field(default_factory=dict)  # imported module -> first line


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def source_files(root: Path, tops: Iterable[str]) -> Iterable[Path]:
    for top in tops:
        for path in sorted((root / top).rglob("*.py")):
            if "migrations" in path.parts or "__pycache__" in path.parts:
                continue
            yield path


def _resolve_relative(module: Module, level: int, target: str | None) -> str:
    base = module.name.split(".")
    if not module.is_package:
        base = base[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def raw_imports(module: Module) -> Iterable[tuple[str, int, list[str]]]:
    """(module, line, names imported from it) for every import statement in the file."""
    tree = ast.parse(module.path.read_text(), filename=str(module.path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno, []
        elif isinstance(node, ast.ImportFrom):
            target = node.module
            if node.level:
                target = _resolve_relative(module, node.level, node.module)
            assert target is not None
            yield target, node.lineno, [alias.name for alias in node.names]


def load(root: Path = ROOT, tops: Iterable[str] = TOP_PACKAGES) -> dict[str, Module]:
    """Every module of the top packages with the modules it imports (all, not only ours)."""
    modules: dict[str, Module] = {}
    for path in source_files(root, tops):
        name, is_package = module_name(path, root)
        modules[name] = Module(name, path, is_package)
    for module in modules.values():
        for target, line, names in raw_imports(module):
            # `from pkg import sub` imports the submodule pkg.sub; any other name comes from
            # pkg/__init__, which is then an edge of its own.
            found = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            if not names or len(found) < len(names):
                found.append(target)
            for imported in found:
                if imported != module.name:
                    module.imports.setdefault(imported, line)
                # Importing a.b.c runs a/__init__ and a/b/__init__ first (those of the
                # importer's own packages are already running).
                parts = imported.split(".")
                for i in range(1, len(parts)):
                    prefix = ".".join(parts[:i])
                    if not module.name.startswith(prefix + "."):
                        module.imports.setdefault(prefix, line)
    return modules


def package_of(name: str) -> str:
    """The unit of the package graph: ``apps.X`` for the Django apps, else the top package."""
    parts = name.split(".")
    if parts[0] == "apps" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)
