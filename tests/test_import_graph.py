"""The import graph of `kasm_keras`: layers that point one way, model families that do not
import each other, and no import cycle.

Every import in every module counts, at any depth of the file: a function-local import is how
a cycle or an upward import hides, and it runs as surely as a module-level one, only later.
Relative imports and `from package import module` resolve to the module they load, and so does
`importlib.import_module("a.constant.name")`; a package's `__init__` re-exports are edges from the
package to its modules. `kasm_keras/__init__.py` is the
package's face: it may import anything and nothing inside the package imports it.
"""

import ast
import dataclasses
import pathlib

import pytest

PACKAGE_DIR = pathlib.Path(__file__).resolve().parents[1] / "kasm_keras"

# A module imports only modules of its own rank or lower. A subpackage missing from the tree
# (cli, before the tools move in) simply has no modules.
RANKS = {"utils": 0, "paper": 0, "regularizers": 1, "layers": 2, "data": 2, "models": 3,
         "training": 4, "zoo": 5, "cli": 6}
FAMILIES_PACKAGE = "models"

# Function-local imports allowed to close a cycle, each with why it is not a module-level one.
LAZY_REGISTRY_LOADS = {
    # The task-family registry imports the one module that lists the families the first time
    # it is asked a question, inside a function: by then task_family has finished loading, so
    # each family.py that imports it (to subclass TaskFamily and register) sees a whole module.
    # Importing the list at module level instead would be the cycle; asking every caller to
    # import kasm_keras.models.families first would spread the list's knowledge to them all.
    ("kasm_keras.models.task_family", "kasm_keras.models.families"),
}


@dataclasses.dataclass(frozen=True)
class Edge:
    """`importer` imports `imported` at `line` of `path`."""
    importer: str
    imported: str
    path: pathlib.Path
    line: int
    #: Whether the import is inside a function (runs when the function is called).
    local: bool = dataclasses.field(default=False, compare=False)

    def __str__(self):
        return f"{self.path}:{self.line}: {self.importer} imports {self.imported}"


def module_files(package_dir):
    """Dotted module name -> file, for every module under `package_dir`."""
    root = package_dir.parent
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def _is_package(path):
    return path.name == "__init__.py"


def _resolve(module, path, node, modules):
    """The modules in `modules` that the import statement `node` of `module` loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:
            package = module.split(".")
            if not _is_package(path):
                package.pop()
            package = package[:len(package) - (node.level - 1)]
            base = ".".join(package + ([base] if base else []))
        # `from base import name` loads the submodule base.name where there is one, and
        # base's own namespace otherwise.
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base
                 for alias in node.names]
    found = []
    for name in names:
        # `import a.b.c` of a name that is not itself a module loads its longest module prefix.
        while name and name not in modules:
            name = name.rpartition(".")[0]
        if name and name not in found:
            found.append(name)
    return found


def _import_module_name(node):
    """The module `importlib.import_module("name")` (or `import_module("name")`) loads, when
    `node` is such a call with a constant, absolute name; else None."""
    if not isinstance(node, ast.Call) or not node.args or len(node.args) > 1 or node.keywords:
        return None
    function = node.func
    called = (function.attr if isinstance(function, ast.Attribute)
              and isinstance(function.value, ast.Name) and function.value.id == "importlib"
              else function.id if isinstance(function, ast.Name) else None)
    name = node.args[0]
    if called != "import_module" or not isinstance(name, ast.Constant) or not isinstance(
            name.value, str) or name.value.startswith("."):
        return None
    return name.value


def _nodes_with_scope(tree):
    """(node, whether it is inside a function) for every node of `tree`."""
    work = [(tree, False)]
    while work:
        node, local = work.pop()
        yield node, local
        inner = local or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        work.extend((child, inner) for child in ast.iter_child_nodes(node))


def import_edges(package_dir):
    """Every import of a module of the package by a module of the package, with its line."""
    modules = module_files(package_dir)
    edges = []
    for module, path in modules.items():
        shown = path.relative_to(package_dir.parent)
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, local in _nodes_with_scope(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                imported = _resolve(module, path, node, modules)
            elif _import_module_name(node):
                imported = _resolve(module, path, ast.Import(
                    names=[ast.alias(name=_import_module_name(node))]), modules)
            else:
                continue
            edges.extend(Edge(module, name, shown, node.lineno, local)
                         for name in imported if name != module)
    return sorted(edges, key=lambda edge: (edge.importer, edge.line, edge.imported))


def _subpackage(module):
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def rank_violations(package_dir, ranks):
    """Imports of the package's face from inside, of a higher rank, or from an unranked place."""
    package = package_dir.name
    problems = []
    for edge in import_edges(package_dir):
        importer, imported = _subpackage(edge.importer), _subpackage(edge.imported)
        if importer is None:
            continue  # the face re-exports whatever it likes
        if imported is None:
            problems.append(f"{edge}: nothing inside the package imports `{package}` itself "
                            f"(import the module that defines the name)")
        elif importer not in ranks or imported not in ranks:
            unranked = importer if importer not in ranks else imported
            problems.append(f"{edge}: {package}.{unranked} has no rank; give it one in RANKS")
        elif ranks[imported] > ranks[importer]:
            problems.append(f"{edge}: {importer} (rank {ranks[importer]}) imports upward into "
                            f"{imported} (rank {ranks[imported]})")
    return problems


def _family(module, modules, families_package):
    """The model family (`<package>.models.<family>`) that `module` belongs to, or None."""
    parts = module.split(".")
    if len(parts) < 3 or parts[1] != families_package:
        return None
    family = ".".join(parts[:3])
    return family if _is_package(modules[family]) else None


def family_violations(package_dir, families_package=FAMILIES_PACKAGE):
    """Imports of one model family by another (shared modules beside the families are fine)."""
    modules = module_files(package_dir)
    problems = []
    for edge in import_edges(package_dir):
        importer = _family(edge.importer, modules, families_package)
        imported = _family(edge.imported, modules, families_package)
        if importer and imported and importer != imported:
            problems.append(f"{edge}: family {importer} imports another family, {imported}")
    return problems


def cycles(package_dir, lazy_loads=()):
    """Each knot of modules that import each other, round a cycle: (its modules, sorted; the
    edges of one shortest cycle through the first of them). A function-local import whose
    (importer, imported) is in `lazy_loads` is left out of the graph."""
    graph = {}
    for edge in import_edges(package_dir):
        if edge.local and (edge.importer, edge.imported) in lazy_loads:
            continue
        graph.setdefault(edge.importer, {}).setdefault(edge.imported, edge)
    found = []
    for component in _strongly_connected(graph):
        if len(component) > 1:
            members = sorted(component)
            found.append((members, _cycle_through(members[0], component, graph)))
    return sorted(found)


def _strongly_connected(graph):
    """Tarjan's strongly connected components of `graph` (node -> {successor: ...})."""
    index, low, stack, on_stack, components = {}, {}, [], set(), []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    components.append(component)
    return components


def _cycle_through(start, component, graph):
    """The shortest cycle from `start` back to itself inside `component`, as edges."""
    previous = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph.get(node, ())):
                if successor not in component:
                    continue
                if successor == start:
                    path = [graph[node][start]]
                    while previous[node] is not None:
                        path.append(graph[previous[node]][node])
                        node = previous[node]
                    return path[::-1]
                if successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"{start} is in a strongly connected component but on no cycle")


def _describe(members, cycle):
    modules = " -> ".join([edge.importer for edge in cycle] + [cycle[0].importer])
    return (f"cycle {modules}\n" + "".join(f"    {edge}\n" for edge in cycle)
            + f"  (the knot it is part of: {', '.join(members)})")


def test_layers_point_one_way():
    problems = rank_violations(PACKAGE_DIR, RANKS)
    assert not problems, "\n".join(problems)


def test_no_family_imports_another():
    problems = family_violations(PACKAGE_DIR)
    assert not problems, "\n".join(problems)


def test_no_import_cycle():
    found = cycles(PACKAGE_DIR, LAZY_REGISTRY_LOADS)
    assert not found, "\n".join(_describe(members, cycle) for members, cycle in found)


def test_each_allowed_lazy_load_is_a_function_local_import_that_closes_a_cycle():
    edges = import_edges(PACKAGE_DIR)
    for pair in LAZY_REGISTRY_LOADS:
        found = [edge for edge in edges if (edge.importer, edge.imported) == pair]
        assert found and all(edge.local for edge in found), (pair, found)
    # Without the allowance the checker sees the cycle: the allowance is not stale.
    assert cycles(PACKAGE_DIR) and not cycles(PACKAGE_DIR, LAZY_REGISTRY_LOADS)


@pytest.fixture
def bad_package(tmp_path):
    """A package with an upward import, an import of the face, a family importing another
    family, and a cycle hidden in a function-local relative import."""
    files = {
        "__init__.py": "from pkg.models.a import A\n",
        "utils/__init__.py": "",
        "utils/base.py": "def helper():\n    from pkg.training import loop\n",
        "training/__init__.py": "",
        "training/loop.py": "import pkg\nfrom pkg.utils import base\n",
        "models/__init__.py": "",
        "models/shared.py": "",
        "models/a/__init__.py": "from .model import A\n",
        "models/a/model.py": "from pkg.models import shared\nfrom pkg.models.b.model import B\n"
                             "A = B\n",
        "models/b/__init__.py": "",
        "models/b/model.py": "def build():\n    from ..a import model\nB = 1\n",
        "models/registry.py": "import importlib\ndef load():\n"
                              "    importlib.import_module('pkg.models.listed')\n",
        "models/listed.py": "from pkg.models import registry\n",
    }
    for name, text in files.items():
        (tmp_path / "pkg" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "pkg" / name).write_text(text)
    return tmp_path / "pkg"


def test_the_checker_finds_what_it_looks_for(bad_package):
    ranks = {"utils": 0, "models": 3, "training": 4}
    assert Edge("pkg.utils.base", "pkg.training.loop", pathlib.Path("pkg/utils/base.py"), 2) \
        in import_edges(bad_package)
    ranked = rank_violations(bad_package, ranks)
    assert len(ranked) == 2, ranked
    assert any("pkg/utils/base.py:2: pkg.utils.base imports pkg.training.loop: utils (rank 0) imports "
               "upward into training (rank 4)" in problem for problem in ranked), ranked
    assert any("loop.py:1: pkg.training.loop imports pkg: nothing inside" in problem
               for problem in ranked), ranked
    assert any("pkg.models has no rank" in problem
               for problem in rank_violations(bad_package, {"utils": 0, "training": 4}))

    families = family_violations(bad_package)
    assert len(families) == 2, families
    assert any("model.py:2: pkg.models.a.model imports pkg.models.b.model: family pkg.models.a"
               in problem for problem in families), families
    assert any("pkg.models.b.model imports pkg.models.a" in problem for problem in families)

    found = [[(edge.importer, edge.imported) for edge in cycle]
             for _, cycle in cycles(bad_package)]
    assert [("pkg.models.a.model", "pkg.models.b.model"),
            ("pkg.models.b.model", "pkg.models.a.model")] in found, found
    assert [("pkg.training.loop", "pkg.utils.base"),
            ("pkg.utils.base", "pkg.training.loop")] in found, found
    # A string import through importlib is an edge too, marked function-local here; allowed,
    # its cycle is left out.
    lazy = Edge("pkg.models.registry", "pkg.models.listed", pathlib.Path("pkg/models/registry.py"),
                3)
    assert lazy in import_edges(bad_package)
    assert [edge.local for edge in import_edges(bad_package) if edge == lazy] == [True]
    assert [("pkg.models.listed", "pkg.models.registry"),
            ("pkg.models.registry", "pkg.models.listed")] in found, found
    allowed = [[(edge.importer, edge.imported) for edge in cycle] for _, cycle in cycles(
        bad_package, {("pkg.models.registry", "pkg.models.listed")})]
    assert len(allowed) == len(found) - 1, allowed


def test_the_clean_tree_of_a_checker_is_clean(tmp_path):
    (tmp_path / "pkg" / "utils").mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("from pkg.utils import tool\n")
    (tmp_path / "pkg" / "utils" / "__init__.py").write_text("from .tool import run\n")
    (tmp_path / "pkg" / "utils" / "tool.py").write_text("import os\nrun = os.getcwd\n")
    assert rank_violations(tmp_path / "pkg", {"utils": 0}) == []
    assert family_violations(tmp_path / "pkg") == []
    assert cycles(tmp_path / "pkg") == []
