"""benchmarks/ stands apart from the library and from tools/: its modules import each other
without a circle, and its measurements and tables import without tools/ on sys.path."""

import ast
import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "benchmarks"


def _module(path):
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _imports(path, modules):
    """The modules of `modules` that the file imports anywhere in it (inside functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found & modules - {_module(path)}


def import_graph():
    """{module: the benchmarks modules it imports} over every module under benchmarks/."""
    paths = sorted(PACKAGE.rglob("*.py"))
    modules = {_module(path) for path in paths}
    return {_module(path): _imports(path, modules) for path in paths}


def cycle(graph):
    """A list of modules that import each other round in a circle, or None."""
    state = {}

    def visit(module, trail):
        state[module] = "open"
        for other in sorted(graph[module]):
            if state.get(other) == "open":
                return trail[trail.index(other):] + [other]
            if other not in state:
                found = visit(other, trail + [other])
                if found:
                    return found
        state[module] = "done"
        return None

    for module in sorted(graph):
        if module not in state:
            found = visit(module, [module])
            if found:
                return found
    return None


def test_cycle_finds_a_circle_and_only_one():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_benchmarks_modules_import_each_other_without_a_circle():
    graph = import_graph()
    # The measurement modules share the child process runner, which imports neither of them.
    assert "benchmarks.reporting.child" in graph["benchmarks.reporting.language_model_benchmark"]
    assert graph["benchmarks.reporting.child"] == set()
    assert cycle(graph) is None


def test_the_measurements_and_tables_import_without_tools_on_the_path():
    modules = sorted(m for m in import_graph() if m.startswith("benchmarks.reporting."))
    code = (f"import sys; import {', '.join(modules)}; "
            "assert 'tool_support' not in sys.modules; print('imported')")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True,
                            text=True)
    assert result.returncode == 0 and "imported" in result.stdout, result.stderr[-3000:]
