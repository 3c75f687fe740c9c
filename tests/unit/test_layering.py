"""The layering of ARCHITECTURE.md §2: instrumentors and exporters use the core runtime; the core
never imports an instrumentor, nor an exporter at import time, nor the command line; `semconv`
imports nothing of ours."""

from __future__ import annotations

import ast
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(node: ast.AST) -> list[str]:
    """The module names an import statement names (`from opik_otel import _configure` names both)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom) and node.module:
        return [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return []


def module_level_imports(path: Path) -> list[tuple[int, str]]:
    """Imports that run when the module is imported (not those inside a function)."""
    found: list[tuple[int, str]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            found.extend((child.lineno, name) for name in imported_modules(child))
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def all_imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), str(path))
    return [(node.lineno, name) for node in ast.walk(tree) for name in imported_modules(node)]


def runtime_modules() -> list[Path]:
    """The runtime an app imports: `opik_otel/*.py` (the command line is the `opik_otel/cli/` package)."""
    return sorted((ROOT / "opik_otel").glob("*.py"))


def names(imports: list[tuple[int, str]], *prefixes: str) -> list[tuple[int, str]]:
    return [(line, name) for line, name in imports if any(name == p or name.startswith(p + ".") for p in prefixes)]


def test_the_core_never_imports_an_instrumentor():
    """`OpikInstrumentor` finds the instrumentors by name (importlib), so no import statement names one."""
    offending = {path.name: names(all_imports(path), "opik_otel.instrumentors") for path in runtime_modules()}
    assert {name: found for name, found in offending.items() if found} == {}


def test_nothing_outside_the_command_line_imports_it():
    paths = [*runtime_modules(), *(ROOT / "instrumentors").rglob("*.py"), *(ROOT / "exporters").rglob("*.py"), *(ROOT / "semconv").rglob("*.py")]
    offending = {str(path.relative_to(ROOT)): names(all_imports(path), "opik_otel.cli") for path in paths}
    assert {name: found for name, found in offending.items() if found} == {}


def test_semconv_imports_nothing_of_ours():
    paths = sorted((ROOT / "semconv").glob("*.py"))
    offending = {path.name: [(line, name) for line, name in all_imports(path) if name.startswith("opik_otel") and not name.startswith("opik_otel.semconv")] for path in paths}
    assert {name: found for name, found in offending.items() if found} == {}


def test_importing_opik_otel_loads_no_instrumentor_no_exporter_and_no_command_line():
    code = "import opik_otel, sys; print(sorted(m for m in sys.modules if m.startswith(('opik_otel.instrumentors', 'opik_otel.exporters', 'opik_otel.cli'))))"
    process = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert (process.returncode, process.stdout.strip()) == (0, "[]"), process.stderr


def test_the_core_imports_exporters_only_when_it_builds_one():
    offending = {path.name: names(module_level_imports(path), "opik_otel.exporters") for path in runtime_modules()}
    assert {name: found for name, found in offending.items() if found} == {}


def test_instrumentors_do_not_import_the_configuration_at_import_time():
    """They reach the core's shared pieces (`_content`, `_errors`) directly, and `ensure_configured`
    only when a `track_*` helper is called."""
    paths = sorted((ROOT / "instrumentors").rglob("*.py"))
    assert len(paths) > 10
    offending = {str(path.relative_to(ROOT)): names(module_level_imports(path), "opik_otel._configure") for path in paths}
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_checks_see_imports_at_every_level(tmp_path):
    """The walker itself: module-level imports inside `try`/`if`/classes count, those in functions do not."""
    module = tmp_path / "sample.py"
    module.write_text(
        "import os\n"
        "try:\n    from opik_otel import _configure\nexcept ImportError:\n    pass\n"
        "class A:\n    from opik_otel.exporters import local\n"
        "def f():\n    import opik_otel.instrumentors.openai\n"
    )
    assert module_level_imports(module) == [
        (1, "os"), (3, "opik_otel"), (3, "opik_otel._configure"), (7, "opik_otel.exporters"), (7, "opik_otel.exporters.local"),
    ]
    assert names(all_imports(module), "opik_otel.instrumentors") == [(9, "opik_otel.instrumentors.openai")]


def _configure_then(tmp_path: Path, before: str, expression: str) -> str:
    code = f"{before}\nimport sys, opik_otel\nopik_otel.configure(exporter='local')\nprint({expression})"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPIK_", "OTEL_"))}
    env["OPIK_OTEL_LOCAL_STORE_DIR"] = str(tmp_path)
    process = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert process.returncode == 0, process.stderr
    return process.stdout.strip()


def test_configure_imports_no_wrapt_where_no_httpx2_reader_is_installed(tmp_path):
    """The price book hooks the modules that read httpx2 unimported (openai's) with wrapt, only
    where such a module is installed: configure() alone stays lean."""
    readers_absent = "import opik_otel._pricing as p; p._HTTPX2_READERS = ('no_such_package._httpx2',)"
    assert _configure_then(tmp_path, readers_absent, "'wrapt' in sys.modules") == "False"


def test_configure_hooks_the_httpx2_reader_where_openai_is_installed(tmp_path):
    if importlib.util.find_spec("httpx2") is None or importlib.util.find_spec("openai") is None:
        pytest.skip("needs openai and httpx2 installed")
    assert _configure_then(tmp_path, "", "'wrapt' in sys.modules") == "True"
