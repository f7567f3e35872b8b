"""The shape of the code, checked on every run: modules and functions small enough to read in
one sitting, and no citation of a document that is not in the repository.

A module over 400 lines is split by topic, a function over 80 lines into named steps. One that
truly must be longer goes in an allow-list below with the reason.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: Where the project's Python code lives (the virtual environment and caches are not code).
CODE = ("cli.py", "receipts", "signing", "schemas", "bench", "tests")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
#: Module path (relative to the repository root) → why it may be longer. Prefer none.
LONG_MODULES: dict[str, str] = {
    "receipts/findings.py": "the one catalogue of finding codes, a member and its meaning per code "
    "(docs/finding-codes.md mirrors it): a table, not logic; splitting it would split the enum",
}
#: "path:qualified.name" → why the function may be longer. Prefer none.
LONG_FUNCTIONS: dict[str, str] = {}
#: A citation of the specification or the working notes, documents outside the repository: the
#: words SPEC (as in "SPEC §4", "SPEC.md") and NOTES in capitals.
OUTSIDE_DOCUMENT = re.compile(r"\b(?:SPEC|NOTES)\b")
#: This file names those words to look for them.
THIS_FILE = Path(__file__).resolve()


def python_files() -> Iterator[Path]:
    """Every Python module of the project, sorted."""
    for entry in CODE:
        path = ROOT / entry
        if path.is_file():
            yield path
        else:
            yield from sorted(p for p in path.rglob("*.py") if "__pycache__" not in p.parts)


def relative(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def functions(tree: ast.AST, prefix: str = "") -> Iterator[tuple[str, ast.AST]]:
    """Every function and method in ``tree`` (nested ones too), with its qualified name."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            name = f"{prefix}{node.name}"
            yield name, node
            yield from functions(node, f"{name}.")
        elif isinstance(node, ast.ClassDef):
            yield from functions(node, f"{prefix}{node.name}.")
        else:
            yield from functions(node, prefix)


def span(node: ast.AST) -> int:
    """Lines from the ``def`` (decorators included) to the last line of the body."""
    decorators = getattr(node, "decorator_list", [])
    first = min([node.lineno, *(d.lineno for d in decorators)])  # type: ignore[attr-defined]
    last = node.end_lineno or node.lineno  # type: ignore[attr-defined]
    return int(last) - int(first) + 1


def long_modules() -> list[str]:
    found = []
    for path in python_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES and relative(path) not in LONG_MODULES:
            found.append(f"{relative(path)}: {lines} lines")
    return found


def long_functions() -> list[str]:
    found = []
    for path in python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name, node in functions(tree):
            lines = span(node)
            key = f"{relative(path)}:{name}"
            if lines > MAX_FUNCTION_LINES and key not in LONG_FUNCTIONS:
                found.append(f"{key}: {lines} lines")
    return found


def outside_citations() -> list[str]:
    found = []
    for path in python_files():
        if path == THIS_FILE:
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if OUTSIDE_DOCUMENT.search(line):
                found.append(f"{relative(path)}:{number}: {line.strip()}")
    return found


def test_no_module_is_over_400_lines() -> None:
    too_long = long_modules()
    assert not too_long, "split by topic (or allow-list with a reason):\n" + "\n".join(too_long)


def test_no_function_is_over_80_lines() -> None:
    too_long = long_functions()
    assert not too_long, "split into steps (or allow-list with a reason):\n" + "\n".join(too_long)


def test_code_cites_only_documents_in_the_repository() -> None:
    cited = outside_citations()
    assert not cited, "cite docs/*.md instead:\n" + "\n".join(cited)


def test_every_allow_list_entry_still_exists_and_says_why() -> None:
    modules = {relative(p) for p in python_files()}
    for path, reason in LONG_MODULES.items():
        assert path in modules and reason.strip(), path
    for key, reason in LONG_FUNCTIONS.items():
        path, _, name = key.partition(":")
        tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
        assert name in dict(functions(tree)) and reason.strip(), key


# The checks themselves, on small made-up sources: each would fail on what it is meant to catch.


def test_functions_are_measured_with_their_decorators_and_nested_ones_apart() -> None:
    source = (
        "@decorator\n"
        "def outer():\n"
        "    def inner():\n"
        "        return 1\n"
        "    return inner\n"
        "class C:\n"
        "    async def method(self):\n"
        "        pass\n"
    )
    spans = {name: span(node) for name, node in functions(ast.parse(source))}
    assert spans == {"outer": 5, "outer.inner": 2, "C.method": 2}


@pytest.mark.parametrize(
    ("line", "cited"),
    [
        ("see SPEC §4 for the layout", True),
        ("as SPEC.md says", True),
        ("(SPEC", True),
        ("measured (NOTES)", True),
        ("see docs/formats.md", False),
        ("release notes of signxml", False),
        ("SPECIAL_CASE = 1", False),
        ("RevocationReason.UNSPECIFIED", False),
    ],
)
def test_a_citation_of_an_outside_document_is_recognised(line: str, cited: bool) -> None:
    assert bool(OUTSIDE_DOCUMENT.search(line)) is cited
