"""The shape of the code: an import graph without circles, a config layer that knows no component,
and modules and functions small enough to read in one sitting.

The graph is computed from the source with `ast` (nothing is imported): every `import` and
`from ... import` of the package `msa` and of the entry points counts, wherever it stands (module
level, inside a function, under TYPE_CHECKING), because a lazy import is still a dependency.

    venv/bin/python tests/test_layout.py     # prints the numbers (modules, floors, imports, cycles) and the floors
"""

from __future__ import annotations

import ast
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Optional

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "msa"
ENTRY_POINTS = ("__main__.py", "render.py", "verify.py", "init_stack.py", "tasks.py")

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60
# Modules allowed over MAX_MODULE_LINES because they are one coherent table that reads best whole.
# (path relative to the project folder -> why). Empty: keep it that way unless a table really grows.
LONG_MODULES: dict[str, str] = {}
# Functions allowed over MAX_FUNCTION_LINES, for the same reason ("path:function" -> why).
LONG_FUNCTIONS: dict[str, str] = {}

# Imports of these create Pulumi resources: a module using them (or subclassing
# pulumi.ComponentResource) is a component.
RESOURCE_MODULES = ("pulumi_kubernetes", "pulumi_command", "pulumi_docker", "pulumi.dynamic")


# --- the graph ------------------------------------------------------------------------------------

@dataclass
class Module:
    name: str                     # dotted: msa.kafka.settings, or the entry point's stem (render)
    path: Path
    tree: ast.Module
    is_package: bool = False      # an __init__.py: its relative imports resolve against itself
    imports: set[str] = field(default_factory=set)


def module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        return ".".join(parts[:-1]), True
    return ".".join(parts), False


def collect(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Module]:
    """Every module of the package (scripts/ folders are shipped into pods, not imported) and the
    entry points, parsed."""
    modules: dict[str, Module] = {}
    paths = [p for p in sorted((root / package).rglob("*.py")) if "scripts" not in p.relative_to(root).parts]
    for path in paths:
        name, is_package = module_name(path, root)
        modules[name] = Module(name, path, ast.parse(path.read_text(), str(path)), is_package)
    for entry in ENTRY_POINTS:
        path = root / entry
        modules[path.stem] = Module(path.stem, path, ast.parse(path.read_text(), str(path)))
    return modules


def imported_names(mod: Module, known: Iterable[str]) -> Iterable[str]:
    """The dotted name every import statement of `mod` refers to, relative imports resolved:
    `from X import y` is X.y when y is one of the `known` modules, else X (y is a name defined in X)."""
    package = mod.name if mod.is_package else mod.name.rpartition(".")[0]
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                yield f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base


def resolve(name: str, known: Mapping[str, Module]) -> Optional[str]:
    """The longest known module `name` starts with (msa.config.model.Kafka -> msa.config.model)."""
    parts = name.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in known:
            return candidate
        parts.pop()
    return None


def build_graph(modules: dict[str, Module]) -> dict[str, set[str]]:
    """module -> the modules of ours it imports (a submodule's parent packages, which Python imports
    on the way, are not counted: they are only an edge when imported by name)."""
    for mod in modules.values():
        for name in imported_names(mod, modules):
            target = resolve(name, modules)
            if target and target != mod.name:
                mod.imports.add(target)
    return {name: set(mod.imports) for name, mod in modules.items()}


def find_cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one node, or a node importing itself
    (Tarjan's algorithm, iterative so a deep graph cannot hit the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    cycles.append(sorted(component))
    return cycles


def floors(graph: Mapping[str, Iterable[str]]) -> dict[str, int]:
    """Floor 0 imports nothing of ours; every other module sits one floor above its highest import.
    Only defined for a graph without cycles."""
    result: dict[str, int] = {}

    def floor(node: str) -> int:
        if node not in result:
            result[node] = 1 + max((floor(n) for n in graph.get(node, ())), default=-1)
        return result[node]

    for node in graph:
        floor(node)
    return result


def unit_of(name: str) -> str:
    """The package (or root module) a module belongs to: msa.kafka.settings -> msa.kafka."""
    parts = name.split(".")
    return ".".join(parts[:2]) if parts[0] == PACKAGE and len(parts) > 1 else parts[0]


def package_graph(graph: Mapping[str, Iterable[str]]) -> dict[str, set[str]]:
    units: dict[str, set[str]] = {}
    for node, targets in graph.items():
        units.setdefault(unit_of(node), set()).update(unit_of(t) for t in targets if unit_of(t) != unit_of(node))
    return units


def is_component(mod: Module) -> bool:
    """A module that creates Pulumi resources."""
    for node in ast.walk(mod.tree):
        if isinstance(node, ast.Import) and any(a.name.startswith(RESOURCE_MODULES) for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").startswith(RESOURCE_MODULES):
            return True
        if isinstance(node, ast.ImportFrom) and node.module == "pulumi" and any(a.name == "dynamic" for a in node.names):
            return True
        if isinstance(node, ast.ClassDef) and any(ast.unparse(b).endswith("ComponentResource") for b in node.bases):
            return True
    return False


def reachable(graph: Mapping[str, Iterable[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        node = todo.pop()
        for target in graph.get(node, ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def long_functions(tree: ast.AST, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    """(qualified name, lines) of every function or method longer than `limit`, decorators included."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    length = child.end_lineno - first + 1
                    if length > limit:
                        found.append((name, length))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


# --- the numbers --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def project():
    modules = collect()
    return modules, build_graph(modules)


def summary(modules: Mapping[str, Module], graph: Mapping[str, set[str]]) -> str:
    cycles = find_cycles(graph)
    levels = floors(graph) if not cycles else {}
    units = package_graph(graph)
    lines = sum(len(m.path.read_text().splitlines()) for m in modules.values())
    return (f"{len(modules)} modules ({lines} lines), {sum(len(t) for t in graph.values())} imports, "
            f"{1 + max(levels.values(), default=-1) if levels else '-'} floors, {len(cycles)} module cycles {[len(c) for c in cycles]}; "
            f"{len(units)} packages, {sum(len(t) for t in units.values())} package imports, "
            f"{len(find_cycles(units))} package cycles")


# --- the rules ----------------------------------------------------------------------------------

def test_no_module_imports_in_a_circle(project):
    _, graph = project
    assert find_cycles(graph) == []


def test_no_package_imports_in_a_circle(project):
    """msa.config must not import msa.kafka while msa.kafka imports msa.config, and so on."""
    _, graph = project
    assert find_cycles(package_graph(graph)) == []


def test_config_imports_no_component(project):
    """The config layer is the floor the components stand on: nothing it imports, directly or
    through another module, creates a Pulumi resource."""
    modules, graph = project
    config_modules = [m for m in graph if unit_of(m) == f"{PACKAGE}.config"]
    assert config_modules, "the config package moved: update this test"
    for name in config_modules:
        components = sorted(t for t in reachable(graph, name) | {name} if is_component(modules[t]))
        assert components == [], f"{name} imports components {components}"


def test_the_components_are_recognised(project):
    """is_component is not vacuous: the modules that create resources are found as such."""
    modules, _ = project
    components = {name for name, mod in modules.items() if is_component(mod)}
    assert {"msa.kafka.cluster", "msa.spring.service", "msa.verify.job", "msa.kafka.storage"} <= components
    assert not any(name.startswith(f"{PACKAGE}.config") for name in components)


def test_entry_points_are_imported_by_no_module_of_the_package(project):
    _, graph = project
    entry = {Path(e).stem for e in ENTRY_POINTS}
    assert {(m, t) for m, ts in graph.items() if m.startswith(f"{PACKAGE}.") or m == PACKAGE for t in ts if t in entry} == set()


def test_no_module_is_too_long(project):
    modules, _ = project
    paths = {m.path for m in modules.values()} | set((ROOT / PACKAGE).rglob("*.py"))
    too_long = {}
    for path in sorted(paths):
        rel = str(path.relative_to(ROOT))
        count = len(path.read_text().splitlines())
        if count > MAX_MODULE_LINES and rel not in LONG_MODULES:
            too_long[rel] = count
    assert too_long == {}, f"split these modules (at most {MAX_MODULE_LINES} lines): {too_long}"
    assert set(LONG_MODULES) <= {str(p.relative_to(ROOT)) for p in paths}, "the allow-list names a module that is gone"


def test_no_function_is_too_long(project):
    modules, _ = project
    paths = {m.path for m in modules.values()} | set((ROOT / PACKAGE).rglob("*.py"))
    too_long = {}
    for path in sorted(paths):
        rel = str(path.relative_to(ROOT))
        for name, length in long_functions(ast.parse(path.read_text())):
            if f"{rel}:{name}" not in LONG_FUNCTIONS:
                too_long[f"{rel}:{name}"] = length
    assert too_long == {}, f"split these functions (at most {MAX_FUNCTION_LINES} lines): {too_long}"


# --- the checks can fail ----------------------------------------------------------------------------

def test_the_cycle_finder_finds_circles_and_only_circles():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert find_cycles({"a": {"a"}}) == [["a"]]
    assert sorted(find_cycles({"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"c", "a"}})) == [["a", "b"], ["c", "d"]]


def test_floors_count_the_longest_chain_below():
    assert floors({"errors": set(), "config": {"errors"}, "kafka": {"config", "errors"}}) == {"errors": 0, "config": 1, "kafka": 2}


def test_packages_in_a_circle_are_found_though_their_modules_are_not():
    graph = {"msa.config.checks": {"msa.kafka.settings"}, "msa.kafka.settings": set(), "msa.kafka.cluster": {"msa.config.model"},
             "msa.config.model": set()}
    assert find_cycles(graph) == []
    assert find_cycles(package_graph(graph)) == [["msa.config", "msa.kafka"]]


def test_relative_and_lazy_imports_are_resolved(tmp_path):
    pkg = tmp_path / PACKAGE
    (pkg / "config").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "config" / "__init__.py").write_text("from .model import Kafka\nfrom .checks import check\n")
    (pkg / "config" / "model.py").write_text("class Kafka: ...\n")
    (pkg / "kafka.py").write_text("import pulumi_kubernetes\nfrom .config import Kafka\n")
    (pkg / "config" / "checks.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..config import model\n"
        "def check():\n    from .. import kafka\n")
    for entry in ENTRY_POINTS:
        (tmp_path / entry).write_text("from msa.config import model\n" if entry == "render.py" else "")
    modules = collect(tmp_path)
    graph = build_graph(modules)
    assert graph["msa.config"] == {"msa.config.model", "msa.config.checks"}
    assert graph["msa.kafka"] == {"msa.config"}
    # TYPE_CHECKING and function-level imports count; `from .. import kafka` is the module msa.kafka.
    assert graph["msa.config.checks"] == {"msa.config.model", "msa.kafka"}
    assert graph["render"] == {"msa.config.model"}
    assert is_component(modules["msa.kafka"]) and not is_component(modules["msa.config.model"])
    assert reachable(graph, "msa.config") == {"msa.config", "msa.config.model", "msa.config.checks", "msa.kafka"}
    assert find_cycles(graph) == [["msa.config", "msa.config.checks", "msa.kafka"]]


def test_long_functions_are_measured_with_their_decorators():
    body = "\n".join(f"    x{i} = {i}" for i in range(59))
    method = "\n".join(f"        x{i} = {i}" for i in range(59))
    source = f"@decorator\ndef f():\n{body}\n\nclass C:\n    def g(self):\n{method}\n        return 1\n"
    assert long_functions(ast.parse(source)) == [("f", 61), ("C.g", 61)]   # decorator + def + 59 lines
    assert long_functions(ast.parse(source), limit=61) == []


if __name__ == "__main__":
    # Optional arguments, to measure another checkout: the project folder and its package name.
    root, package = (Path(sys.argv[1]), sys.argv[2]) if len(sys.argv) > 2 else (ROOT, PACKAGE)
    PACKAGE = package
    found = collect(root, package)
    graph = build_graph(found)
    print(summary(found, graph))
    if not find_cycles(graph):
        for level, names in sorted((lvl, sorted(n for n, f in floors(graph).items() if f == lvl)) for lvl in set(floors(graph).values())):
            print(f"floor {level:>2}: {' '.join(names)}")
