"""The import-graph reader sees what the layering test relies on (a tree written for the test)."""

from __future__ import annotations

from pathlib import Path

from tests.architecture.imports import cycles, load, package_of


def _tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_function_level_and_relative_imports_count(tmp_path: Path) -> None:
    _tree(
        tmp_path,
        {
            "apps/__init__.py": "",
            "apps/a/__init__.py": "",
            "apps/a/x.py": "def f():\n    from apps.b import y\n",
            "apps/a/z.py": "from . import x\nfrom .x import f\n",
            "apps/b/__init__.py": "",
            "apps/b/y.py": "import apps.a.z\n",
            "apps/b/migrations/0001.py": "import apps.a.x\n",
        },
    )
    modules = load(tmp_path, ("apps",))

    assert set(modules["apps.a.x"].imports) == {"apps.b", "apps.b.y"}
    assert set(modules["apps.a.z"].imports) == {"apps.a.x"}
    # Importing a.z runs the package apps.a's __init__ first.
    assert set(modules["apps.b.y"].imports) == {"apps.a", "apps.a.z"}
    assert "apps.b.migrations.0001" not in modules
    graph = {m.name: {t for t in m.imports if t in modules} for m in modules.values()}
    assert cycles(graph) == [["apps.a.x", "apps.a.z", "apps.b.y"]]


def test_a_package_init_reexporting_its_caller_is_a_cycle(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "from pkg.services import run\n",
        "pkg/services.py": "def run():\n    from pkg.tasks import job\n",
        "pkg/tasks.py": "from pkg.other import thing\n",
        "pkg/other.py": "",
    }
    _tree(tmp_path, files)
    modules = load(tmp_path, ("pkg",))
    graph = {m.name: {t for t in m.imports if t in modules} for m in modules.values()}
    assert cycles(graph) == []  # a submodule of the package being imported: no edge to its init

    # A name from the package's __init__ (not a submodule) needs the __init__: that closes a loop.
    (tmp_path / "pkg/tasks.py").write_text("from pkg import run\n")
    modules = load(tmp_path, ("pkg",))
    graph = {m.name: {t for t in m.imports if t in modules} for m in modules.values()}
    assert cycles(graph) == [["pkg", "pkg.services", "pkg.tasks"]]


def test_packages_are_apps_or_top_level() -> None:
    assert package_of("apps.access.requests.models") == "apps.access"
    assert package_of("apps") == "apps"
    assert package_of("sandbox.server") == "sandbox"
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
