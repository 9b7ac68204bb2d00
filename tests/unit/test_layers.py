"""Layers import downward only: no import circle in ``src/rill``, and nothing below
the HTTP layer imports it or the CLI (issue 15).

Every import counts, including those inside functions and under ``TYPE_CHECKING``:
a circle hidden there still ties the modules together for a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "rill"
#: Packages below ``rill.http`` and ``rill.cli``.
LOWER = ("hub", "broker", "store", "chat", "providers", "sse", "auth")
UPPER = ("rill.http", "rill.cli")


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, name: str, modules: set[str]) -> set[str]:
    """The ``rill`` modules ``path`` imports (``from pkg import mod`` names the module)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                found.add(sub if sub in modules else base)
    return {m for m in found if m in modules}


def import_graph() -> dict[str, set[str]]:
    paths = {_module_name(p): p for p in SRC.rglob("*.py")}
    modules = set(paths)
    return {name: _imports(path, name, modules) - {name} for name, path in paths.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One circle per strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_the_imports() -> None:
    graph = import_graph()
    # The check is only as good as the graph: known edges, of each import form.
    assert "rill.hub.hub" in graph["rill.hub.router"]  # from rill.hub.hub import …
    assert "rill.hub.hub" in graph["rill.hub"]  # a package's __init__
    assert "rill.hub" in graph["rill.http.protocol"]  # from a package, a name
    assert "rill.http.app" in graph["rill.http.protocol"]


def test_cycles_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_circle_in_src() -> None:
    assert cycles(import_graph()) == []


def test_lower_layers_do_not_import_http_or_cli() -> None:
    upward = {
        (module, target)
        for module, targets in import_graph().items()
        if _within(module, tuple(f"rill.{p}" for p in LOWER))
        for target in targets
        if _within(target, UPPER)
    }
    assert upward == set()


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def test_within_respects_package_boundaries() -> None:
    assert _within("rill.cli.serve", UPPER) and _within("rill.http", UPPER)
    assert not _within("rill.client.errors", UPPER)
