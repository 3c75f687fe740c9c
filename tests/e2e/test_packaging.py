"""One distribution, four import packages, from a wheel and from the editable install."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from importlib.metadata import entry_points
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SUBPACKAGES = {"semconv": "semconv", "instrumentors": "instrumentors", "exporters": "exporters"}


def _entry_point_names(group: str) -> set[str]:
    return {ep.name for ep in entry_points(group=group) if ep.value.startswith("opik_otel")}


def test_every_source_folder_with_an_init_is_packaged() -> None:
    """pyproject lists packages explicitly (folders are remapped): none may be forgotten."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"opik_otel"}
    for folder in ("opik_otel", *SUBPACKAGES):
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            prefix = ["opik_otel"] if folder == "opik_otel" else ["opik_otel", folder]
            found.add(".".join([*prefix, *relative]))
    assert listed == found


def test_editable_install_imports_the_repository_folders() -> None:
    import opik_otel
    import opik_otel.exporters.opik
    import opik_otel.instrumentors.openai
    import opik_otel.semconv

    assert Path(opik_otel.__file__).parent == ROOT / "opik_otel"
    assert Path(opik_otel.semconv.__file__).parent == ROOT / "semconv"
    assert Path(opik_otel.instrumentors.openai.__file__).parent == ROOT / "instrumentors" / "openai"
    assert Path(opik_otel.exporters.opik.__file__).parent == ROOT / "exporters" / "opik"


def test_entry_points_are_registered() -> None:
    assert _entry_point_names("opentelemetry_instrumentor") == {
        "opik_openai", "opik_anthropic", "opik_bedrock", "opik_langchain", "opik_llama_index", "opik_haystack", "opik_genai",
        "opik_litellm", "opik_aisuite", "opik_dspy", "opik_crewai", "opik_adk",
    }
    assert _entry_point_names("opentelemetry_distro") == {"opik_otel"}
    assert _entry_point_names("opentelemetry_configurator") == {"opik_otel"}
    assert _entry_point_names("opentelemetry_traces_exporter") == {"opik"}
    assert _entry_point_names("opentelemetry_propagator") >= {"opik"}
    scripts = {ep.name: ep.value for ep in entry_points(group="console_scripts") if ep.value.startswith("opik_otel")}
    assert scripts == {"opik-otel": "opik_otel.cli:main"}


def test_instrumentor_entry_points_match_the_registry() -> None:
    from opik_otel._registry import INTEGRATIONS

    assert _entry_point_names("opentelemetry_instrumentor") == {i.entry_point for i in INTEGRATIONS}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = f"from setuptools import build_meta; build_meta.build_wheel({str(out)!r})"
    subprocess.run([sys.executable, "-c", build], cwd=ROOT, check=True, capture_output=True)
    (built,) = out.glob("opik_otel-*.whl")
    return built


def test_wheel_contains_the_four_packages_and_entry_points(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (
        "opik_otel/__init__.py",
        "opik_otel/semconv/__init__.py",
        "opik_otel/instrumentors/_engine.py",
        "opik_otel/instrumentors/openai/__init__.py",
        "opik_otel/exporters/opik/__init__.py",
    ):
        assert module in names
    assert not any(name.startswith(("tests/", "semconv/", "benchmarks/")) for name in names)
    (entry_points_txt,) = [n for n in names if n.endswith("entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points_txt).decode()
    assert "opik_openai = opik_otel.instrumentors.openai:OpenAIInstrumentor" in text
    assert "opik = opik_otel.exporters.opik:OpikSpanExporter" in text


def test_wheel_imports_without_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    """Unpacked wheel first on sys.path: every package must come from it, not from the repository."""
    zipfile.ZipFile(wheel).extractall(tmp_path)
    code = (
        "import opik_otel, opik_otel.semconv, opik_otel.instrumentors.openai, opik_otel.exporters.opik, sys\n"
        "mods = [opik_otel, opik_otel.semconv, opik_otel.instrumentors.openai, opik_otel.exporters.opik]\n"
        "print('\\n'.join(m.__file__ for m in mods))\n"
        "assert 'openai' not in sys.modules, 'importing opik_otel must not import openai'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(tmp_path), "PATH": ""},
        capture_output=True, text=True, check=True,
    )
    for line in result.stdout.split():
        assert line.startswith(str(tmp_path)), line


def test_a_wheel_install_imports_inside_the_clone(wheel: Path, tmp_path: Path) -> None:
    """The wheel installed (not editable) in a fresh venv, then imported in the repository root,
    where the `opik_otel/` folder shadows the install (the current directory comes first on
    sys.path) without semconv/, instrumentors/ and exporters/ inside it; and elsewhere."""
    uv = shutil.which("uv")
    assert uv is not None, "this test needs uv on PATH (pip install uv)"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    subprocess.run([uv, "venv", "-q", "-p", sys.executable, str(venv)], env=env, check=True, capture_output=True, timeout=50)
    subprocess.run([uv, "pip", "install", "-q", "-p", str(python), str(wheel)], env=env, check=True, capture_output=True, timeout=50)
    code = (
        "import opik_otel, opik_otel.semconv, opik_otel.instrumentors.openai, opik_otel.exporters.opik\n"
        "mods = [opik_otel, opik_otel.semconv, opik_otel.instrumentors.openai, opik_otel.exporters.opik]\n"
        "print('\\n'.join(m.__file__ for m in mods))\n"
        "print(opik_otel.OpikInstrumentor.__name__, opik_otel.OpikSpanExporter.__name__)\n"
    )
    in_clone = subprocess.run([str(python), "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=30)
    assert in_clone.returncode == 0, in_clone.stderr
    assert in_clone.stdout.splitlines() == [
        str(ROOT / "opik_otel" / "__init__.py"),
        str(ROOT / "semconv" / "__init__.py"),
        str(ROOT / "instrumentors" / "openai" / "__init__.py"),
        str(ROOT / "exporters" / "opik" / "__init__.py"),
        "OpikInstrumentor OpikSpanExporter",
    ]
    elsewhere = subprocess.run([str(python), "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=30)
    assert elsewhere.returncode == 0, elsewhere.stderr
    site_packages = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], env=env, capture_output=True, text=True
    ).stdout.strip()
    installed = Path(site_packages) / "opik_otel"
    assert elsewhere.stdout.splitlines() == [
        str(installed / "__init__.py"),
        str(installed / "semconv" / "__init__.py"),
        str(installed / "instrumentors" / "openai" / "__init__.py"),
        str(installed / "exporters" / "opik" / "__init__.py"),
        "OpikInstrumentor OpikSpanExporter",
    ]
