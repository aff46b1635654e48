"""The library's shape, read from its source with ``ast``: no import cycle, no two modules with
one name, short modules and short parameter lists.

Each check lists every offender, so one run says everything that is left to fix.
"""

from __future__ import annotations

import ast
from collections import Counter
from functools import cache
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "lib" / "annokit"
MAX_LINES = 350
MAX_PARAMETERS = 7
PACKAGE_FILES = ("__init__.py", "__main__.py")


def module_name(path: Path) -> str:
    """``lib/annokit/data/index.py`` -> ``annokit.data.index``; an ``__init__`` is its package."""
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the library by dotted name."""
    return {module_name(path): path for path in sorted(LIBRARY.rglob("*.py"))}


@cache
def tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def relative(path: Path) -> str:
    return str(path.relative_to(LIBRARY.parents[1]))


def imported_modules(name: str, path: Path) -> set[str]:
    """The library modules ``name`` imports anywhere in its body, functions included.

    ``from annokit.x import y`` counts as importing ``annokit.x.y`` when that is a module, else
    ``annokit.x``; relative imports are resolved against the module's package.
    """
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree(path)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules() else base)
    return {target for target in found if target in modules() and target != name}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path that ends where it starts, or None."""
    state: dict[str, str] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*stack[stack.index(target) :], target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_modules_import_each_other_without_a_cycle():
    graph = {name: imported_modules(name, path) for name, path in modules().items()}
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_no_two_modules_share_a_name_and_none_is_named_like_a_package():
    files = [p for p in modules().values() if p.name not in PACKAGE_FILES]
    counts = Counter(p.stem for p in files)
    shared = sorted(relative(p) for p in files if counts[p.stem] > 1)
    assert not shared, f"modules sharing a file name: {', '.join(shared)}"
    packages = {p.parent.name for p in modules().values() if p.name == "__init__.py"}
    clashing = sorted(relative(p) for p in files if p.stem in packages)
    assert not clashing, f"modules named like a subpackage: {', '.join(clashing)}"


def test_every_module_is_at_most_350_lines():
    counts = {
        relative(p): len(p.read_text(encoding="utf-8").splitlines()) for p in modules().values()
    }
    long = [f"{path} ({lines})" for path, lines in sorted(counts.items()) if lines > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines: {', '.join(long)}"


def parameter_count(function: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> int:
    """Parameters of a function; a method's ``self`` or ``cls`` is not counted, ``*args`` and
    ``**kwargs`` count one each."""
    arguments = function.args
    positional = [*arguments.posonlyargs, *arguments.args]
    if method and positional and positional[0].arg in ("self", "cls"):
        positional = positional[1:]
    starred = (arguments.vararg is not None) + (arguments.kwarg is not None)
    return len(positional) + len(arguments.kwonlyargs) + starred


def torch_module_classes() -> set[str]:
    """Names of the library's classes derived from ``torch.nn.Module``, directly or through its
    own classes."""
    bases = {}
    for path in modules().values():
        for node in ast.walk(tree(path)):
            if isinstance(node, ast.ClassDef):
                bases[node.name] = [ast.unparse(base) for base in node.bases]
    found = {
        n for n, names in bases.items() if any(b.startswith(("nn.", "torch.nn.")) for b in names)
    }
    grown = True
    while grown:
        more = {n for n, names in bases.items() if any(b.split(".")[-1] in found for b in names)}
        grown = bool(more - found)
        found |= more
    return found


def long_signatures(path: Path, modules_of_torch: set[str]) -> list[str]:
    """``path:line name (count)`` for each function of a module with too many parameters."""
    found = []

    def visit(node: ast.AST, owner: ast.ClassDef | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                count = parameter_count(child, method=owner is not None)
                exempt = (
                    owner is not None
                    and child.name == "__init__"
                    and owner.name in modules_of_torch
                )
                if count > MAX_PARAMETERS and not exempt:
                    name = f"{owner.name}.{child.name}" if owner else child.name
                    found.append(f"{relative(path)}:{child.lineno} {name} ({count})")
                visit(child, None)
            elif isinstance(child, ast.ClassDef):
                visit(child, child)
            else:
                visit(child, owner)

    visit(tree(path), None)
    return found


def test_no_function_takes_more_than_7_parameters():
    modules_of_torch = torch_module_classes()
    long = [entry for p in modules().values() for entry in long_signatures(p, modules_of_torch)]
    assert not long, f"functions with more than {MAX_PARAMETERS} parameters: {'; '.join(long)}"
