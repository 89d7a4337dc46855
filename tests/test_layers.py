"""The floors only look down: livevideo on presence on realtime. Neither realtime/ nor presence/
imports the product, realtime/ does not import presence/, and within realtime/ the fan-out
(``realtime.hub``) does not import the backends that feed it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def runtime_imports(path: Path) -> set[str]:
    """The modules a file imports when it runs (imports for type checkers only left out)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def modules_of(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def below(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


@pytest.mark.parametrize("package", ["realtime", "presence"])
def test_the_platform_never_imports_the_product(package):
    for path in modules_of(package):
        product = [m for m in runtime_imports(path) if below(m, "livevideo")]
        assert not product, f"{path.relative_to(ROOT)} imports {product}"


def test_realtime_never_imports_presence():
    for path in modules_of("realtime"):
        upward = [m for m in runtime_imports(path) if below(m, "presence")]
        assert not upward, f"{path.relative_to(ROOT)} imports {upward}"


def test_the_hub_does_not_import_the_backends_that_feed_it():
    imports = runtime_imports(ROOT / "realtime" / "hub.py")
    assert not [m for m in imports if below(m, "realtime.backends")]
    assert not [m for m in imports if below(m, "realtime.runtime")]


def test_the_check_sees_an_import():
    """The checks above would catch one (a test that cannot fail is a defect)."""
    assert "realtime.backends.base" in runtime_imports(ROOT / "realtime" / "backends" / "memory.py")
    assert "realtime.runtime" in runtime_imports(ROOT / "presence" / "tracker.py")
    assert "realtime.hub" not in runtime_imports(ROOT / "realtime" / "runtime.py")  # typing only
