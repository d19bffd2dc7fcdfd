"""Two architecture checks that import-linter has no contract for (run by scripts/lint.sh):

1. No import cycles between the project's modules (every import counts, also one inside a
   function: hiding an import there does not remove the dependency).
2. No import of a project module inside a function unless a comment on that line or the line
   above says why (such imports hide dependencies from readers and tools).

Exit status 1 with one line per problem.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Set

import grimp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # grimp finds the project's packages on the path
PACKAGES = ("billing_core", "actions", "webapp", "helpdesk", "deploy")


def import_cycles() -> List[List[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    graph = grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True)
    modules = sorted(graph.modules)
    edges: Dict[str, Set[str]] = {m: graph.find_modules_directly_imported_by(m) & graph.modules for m in modules}
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    on_stack: Set[str] = set()
    stack: List[str] = []
    components: List[List[str]] = []
    counter = 0
    for start in modules:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
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
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    components.append(sorted(component))
    return components


def python_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def unexplained_function_imports(path: Path) -> Iterator[str]:
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                names = [alias.name for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.level == 0 and inner.module:
                names = [inner.module]
            elif isinstance(inner, ast.ImportFrom):
                names = ["." * inner.level + (inner.module or "")]
            else:
                continue
            if not any(name.startswith(".") or name.split(".")[0] in PACKAGES for name in names):
                continue
            here = lines[inner.lineno - 1]
            above = lines[inner.lineno - 2] if inner.lineno > 1 else ""
            if "#" in here or above.strip().startswith("#"):
                continue
            yield f"{path.relative_to(ROOT)}:{inner.lineno}: import of {', '.join(names)} inside a function, no comment says why"


def main() -> int:
    problems = [f"import cycle: {' <-> '.join(c)}" for c in import_cycles()]
    for path in python_files():
        problems.extend(unexplained_function_imports(path))
    for problem in problems:
        print(problem)
    print(f"architecture: {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
