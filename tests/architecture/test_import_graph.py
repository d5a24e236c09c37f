"""The layers of Rolegate, checked on its import graph (read with ``ast``; nothing is imported).

Every import counts: at module level, inside functions and under ``TYPE_CHECKING``; importing
``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``, so those are edges too. The README's
Architecture section shows the same layers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.architecture.imports import Module, cycles, load, package_of

# Bottom to top. A package may import packages of lower layers only (never one of its own layer,
# never one above). `portal/` (settings, URLs, the server) wires every layer and is not listed.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("awsra",),  # the Roles Anywhere protocol library (pure)
    ("rbac",),  # the access engine: labels, templates, role specs, decisions (pure)
    ("apps.core",),  # the kernel: policies, context, registry, hooks, middleware, metrics
    ("apps.audit",),  # the audit log, its chain and checkpoints
    ("apps.authority", "apps.accounts"),  # the CA; users and sign-in
    ("apps.access",),  # roles, decisions, access requests
    ("apps.resources",),  # the synced-app catalog and issuance (Launch, CLI credentials)
    # AWS accounts (enrollment, the profile sync, the kill switch); signed webhooks
    ("apps.integrations", "apps.webhooks"),
    ("apps.api",),  # the automation API over the domain apps
    ("apps.demo",),  # the embedded demo and the sandbox command: may use everything
)
# Stand-alone programs: the CLI and the offline AWS. They share only the pure libraries.
TOOLS = {"rolegate": {"awsra"}, "sandbox": {"awsra"}}
ALSO_ALLOWED = {("apps.demo", "sandbox")}  # the demo runs the offline AWS
PURE = ("awsra", "rbac", "rolegate", "sandbox")  # no Django, no Rolegate app

MODULES = load()
# apps/__init__.py is an empty namespace for the Django apps; each apps.X is a package of its own.
OURS = {package_of(name) for name in MODULES} - {"apps"}


def _edges() -> list[tuple[Module, str, int]]:
    """(importing module, imported module of ours, line) for every import of our own code."""
    return [
        (module, target, line)
        for module in MODULES.values()
        for target, line in sorted(module.imports.items())
        if package_of(target) in OURS and target.split(".")[0] in ("apps", *PURE)
    ]


def _where(module: Module, line: int) -> str:
    return f"{module.path.relative_to(module.path.parents[len(module.name.split('.')) - 1])}:{line}"


def test_every_package_has_a_layer() -> None:
    placed = {p for layer in LAYERS for p in layer} | set(TOOLS)
    assert OURS - placed == set(), "add the new package to LAYERS (and the README)"


def test_no_module_cycle() -> None:
    graph: dict[str, set[str]] = {
        m.name: {t for t in m.imports if t in MODULES} for m in MODULES.values()
    }
    assert cycles(graph) == []


def test_no_package_cycle() -> None:
    graph: dict[str, set[str]] = {}
    for module, target, _line in _edges():
        if package_of(module.name) != package_of(target):
            graph.setdefault(package_of(module.name), set()).add(package_of(target))
    assert cycles(graph) == []


def test_packages_import_only_lower_layers() -> None:
    rank = {p: i for i, layer in enumerate(LAYERS) for p in layer}
    wrong = []
    for module, target, line in _edges():
        source, imported = package_of(module.name), package_of(target)
        if source == imported:
            continue
        if source in TOOLS:
            allowed = imported in TOOLS[source]
        elif (source, imported) in ALSO_ALLOWED:
            allowed = True
        else:
            allowed = imported in rank and source in rank and rank[imported] < rank[source]
        if not allowed:
            wrong.append(f"{_where(module, line)}: {source} -> {target}")
    assert wrong == []


@pytest.mark.parametrize("package", PURE)
def test_pure_packages_import_no_django(package: str) -> None:
    wrong = [
        f"{_where(module, line)}: {target}"
        for module in MODULES.values()
        if package_of(module.name) == package
        for target, line in module.imports.items()
        if target.split(".")[0] in ("django", "apps", "portal", "celery", "ninja")
    ]
    assert wrong == []


def _imports_of(source: str, forbidden: Callable[[str], bool]) -> list[str]:
    """Where modules of package `source` import a package of ours that `forbidden` names."""
    return [
        f"{_where(module, line)}: {target}"
        for module, target, line in _edges()
        if package_of(module.name) == source and forbidden(package_of(target))
    ]


def test_the_kernel_imports_no_app() -> None:
    assert _imports_of("apps.core", lambda p: p.startswith("apps.") and p != "apps.core") == []


def test_audit_imports_no_domain_app() -> None:
    assert _imports_of("apps.audit", lambda p: p not in ("apps.audit", "apps.core", "rbac")) == []


def test_the_cli_does_not_import_the_sandbox() -> None:
    assert _imports_of("rolegate", lambda p: p == "sandbox") == []


def test_the_readme_shows_these_layers() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    table = readme.split("| Layer (top to bottom) | Packages |", 1)[1].split("\n\n", 1)[0]
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    shown = [
        tuple(
            name.rstrip("/").replace("/", ".")
            for name in re.findall(r"`([a-z]+(?:/[a-z]+)?/?)`", row.split("|")[2])
            if name.count("/") <= 1 and name.rstrip("/") not in ("access/requests", "accounts/oidc")
        )
        for row in rows
    ]
    # Each row names its layer's packages first (any order); sub-packages and tools it mentions
    # afterwards are not layers.
    assert [set(row[: len(layer)]) for row, layer in zip(shown, LAYERS[::-1], strict=True)] == [
        set(layer) for layer in LAYERS[::-1]
    ]
