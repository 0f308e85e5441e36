"""The tests' own layout (tests/README.md): test modules sit in a layer, helpers in tests/support/, and no
module imports a test module or a conftest, only tests.support."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.support.project import REPO_ROOT

TESTS = REPO_ROOT / "tests"
LAYERS = ("unit", "integration", "e2e")


def _python_files() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)


def _imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) of each import in the file; a relative import is spelled with its dots."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, "." * node.level + (node.module or "")))
    return found


def test_tests_import_nothing_of_tests_but_tests_support() -> None:
    wrong = [
        f"{path.relative_to(REPO_ROOT)}:{line}: imports {module}"
        for path in _python_files()
        for line, module in _imported(path)
        if module.startswith(".")
        or module.split(".")[0] == "conftest"
        or (module.split(".")[0] == "tests" and module.split(".")[:2] != ["tests", "support"])
    ]
    assert not wrong, (
        "move what is shared into tests/support/ (fixtures into tests/conftest.py):\n" + "\n".join(wrong)
    )


def test_test_modules_sit_in_a_layer_and_helpers_in_support() -> None:
    misplaced = []
    for path in _python_files():
        parts = path.relative_to(TESTS).parts
        if path.name == "__init__.py" or parts == ("conftest.py",):
            continue
        if parts[0] == "support":
            if path.name.startswith("test_") or path.name == "conftest.py":
                misplaced.append(f"{path.relative_to(REPO_ROOT)}: tests and fixtures do not go in support/")
        elif parts[0] not in LAYERS:
            misplaced.append(f"{path.relative_to(REPO_ROOT)}: not in a layer ({', '.join(LAYERS)})")
        elif not (path.name.startswith("test_") or path.name == "conftest.py"):
            misplaced.append(f"{path.relative_to(REPO_ROOT)}: a helper: move it to tests/support/")
    assert not misplaced, "\n".join(misplaced)
