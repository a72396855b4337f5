"""The installed import names: only `pairforge` (no generic `tasks`/`flows`), and no import cycles between
pairforge's modules, function-level imports included (imports under TYPE_CHECKING are type hints only)."""

from __future__ import annotations

import ast
import subprocess
import sys

from tests.conftest import REPO


def module_graph() -> dict[str, set[str]]:
    files = {}
    for folder in ("tasks", "flows"):
        for path in (REPO / folder).rglob("*.py"):
            parts = path.relative_to(REPO).with_suffix("").parts
            files[".".join(("pairforge", *parts)).removesuffix(".__init__")] = path
    graph = {}
    for name, path in files.items():
        tree = ast.parse(path.read_text())
        hints = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                 and getattr(node.test, "id", None) == "TYPE_CHECKING" for n in ast.walk(node)}
        targets = set()
        for node in ast.walk(tree):
            if id(node) in hints:
                continue
            if isinstance(node, ast.ImportFrom) and node.module:
                targets |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
        graph[name] = {t for t in targets if t in files and t != name}
    return graph


def test_no_import_cycles():
    graph = module_graph()
    assert len(graph) > 40 and graph["pairforge.flows.build"]
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        for nxt in graph[name]:
            assert nxt not in path, f"import cycle: {' -> '.join(path[path.index(nxt):] + [nxt])}"
            if nxt not in done:
                visit(nxt, path + [nxt])
        done.add(name)

    for name in graph:
        visit(name, [name])


def test_only_pairforge_is_importable_outside_the_checkout(tmp_path):
    def imports(module: str) -> bool:
        return subprocess.run([sys.executable, "-c", f"import {module}"], cwd=tmp_path,
                              capture_output=True).returncode == 0

    assert imports("pairforge.tasks.core.stages") and imports("pairforge.flows.cli")
    assert not imports("tasks") and not imports("flows")
