"""The suite's own layout (issue 12, item 17): one conftest per level, nothing written twice.

- A fixture defined where many modules share it (a conftest.py, or a helper module such as
  tests/sandbox_fixtures.py) is defined nowhere else: no module shadows it with its own.
- No two fixtures or module-level helper functions have the same code (whatever their names).
- A test module (test_*.py) imports from no other test module and from no conftest.py; what
  several modules need lives in a conftest.py or a helper module that pytest does not collect.
- A test module holds tests: a module of fixtures only is a conftest or a helper module.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent


@dataclass(frozen=True)
class Function:
    path: Path
    line: int
    name: str
    fixture: str | None  # the fixture's name, or None for a plain helper function
    code: str  # the body without the docstring, for comparison

    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line} {self.name}"


def modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(TESTS.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def is_test_module(path: Path) -> bool:
    return path.name.startswith("test_")


def fixture_name(function: ast.FunctionDef) -> str | None:
    for decorator in function.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if not ast.unparse(target).endswith("fixture"):
            continue
        if isinstance(decorator, ast.Call):
            for keyword in decorator.keywords:
                if keyword.arg == "name" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
        return function.name
    return None


def body_code(function: ast.FunctionDef) -> str:
    body = function.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    arguments = ast.unparse(function.args)
    return arguments + "\n" + "\n".join(ast.dump(statement) for statement in body)


def functions() -> list[Function]:
    """Every fixture anywhere, and every module-level function that is not a test."""
    found = []
    for path, tree in modules():
        for node in ast.walk(tree):
            if not isinstance(node, ast.FunctionDef):
                continue
            name = fixture_name(node)
            top_level = node in tree.body
            if name is None and (not top_level or node.name.startswith(("test_", "pytest_"))):
                continue
            found.append(Function(path, node.lineno, node.name, name, body_code(node)))
    return found


def scope(function: Function) -> Path | None:
    """Where a shared fixture applies: a conftest's folder; a helper or plugin module's, all
    the tests. None for a test module's own fixture."""
    if function.path.name == "conftest.py":
        return function.path.parent
    return None if is_test_module(function.path) else TESTS


def test_a_shared_fixture_is_defined_once_and_nowhere_shadowed() -> None:
    by_name: defaultdict[str, list[Function]] = defaultdict(list)
    for function in functions():
        if function.fixture is not None:
            by_name[function.fixture].append(function)
    twice = [
        f"{shared.where()} ~ {other.where()}"
        for definitions in by_name.values()
        for shared in definitions
        if (folder := scope(shared)) is not None
        for other in definitions
        if other is not shared
        and (folder in other.path.parents)
        and (scope(other) is None or scope(other) != folder or other.path > shared.path)
    ]
    assert twice == [], (
        "shared fixtures defined again (use the shared one, or another name):\n" + "\n".join(twice)
    )


def test_no_fixture_or_helper_is_written_twice() -> None:
    by_code: defaultdict[str, list[Function]] = defaultdict(list)
    for function in functions():
        by_code[function.code].append(function)
    twice = [[function.where() for function in same] for same in by_code.values() if len(same) > 1]
    assert twice == [], (
        "the same code in several places (move it to a conftest or helper):\n"
        + "\n".join(" ~ ".join(same) for same in twice)
    )


def imported_modules(tree: ast.Module, path: Path) -> Iterator[str]:
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                anchor = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{anchor}.{base}" if base else anchor
            yield base
            yield from (f"{base}.{alias.name}" for alias in node.names)


def test_no_module_imports_a_test_module_or_a_conftest() -> None:
    wrong = [
        f"{path.relative_to(ROOT)} imports {name}"
        for path, tree in modules()
        for name in imported_modules(tree, path)
        if name.startswith("tests.") and name.rsplit(".", 1)[-1].startswith(("test_", "conftest"))
    ]
    assert wrong == [], "\n".join(wrong)


def test_every_test_module_holds_tests() -> None:
    empty = [
        str(path.relative_to(ROOT))
        for path, tree in modules()
        if is_test_module(path)
        and not any(
            isinstance(node, ast.FunctionDef | ast.ClassDef)
            and node.name.startswith(("test", "Test"))
            for node in tree.body
        )
    ]
    assert empty == [], (
        "modules of fixtures only (make them a conftest or helper module): " + ", ".join(empty)
    )
