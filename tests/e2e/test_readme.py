"""The README's commands, as a newcomer runs them: the Quickstart (set up, demo, tests) in a copy
of the checkout, and the one development set-up and test command (`scripts/test.sh`), whose
plan is read with `--dry-run`: which environments it builds, what it installs where, which
tests each group runs."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e._helpers import ROOT, clean_env

README = ROOT / "README.md"
TEST_SH = ROOT / "scripts" / "test.sh"

QUICKSTART = [
    'python3 -m venv .venv && .venv/bin/pip install -e ".[openai]"',
    ".venv/bin/opik-otel demo",
    "bash scripts/test.sh",
]
SETUP = "bash scripts/test.sh --setup-only"
TEST = "bash scripts/test.sh"
# The oldest group runs only these (the Opik exporter's tests need a newer openai).
OLDEST_TESTS = [
    "tests/integration", "tests/tracking", "tests/unit/test_fake_openai_server.py", "tests/unit/test_ids.py",
    "tests/unit/test_processor.py", "tests/unit/test_settings.py", "tests/reliability/test_batch.py",
    "tests/reliability/test_spool.py", "tests/reliability/test_payload.py",
]
FRAMEWORKS = ("langchain", "llama_index", "haystack", "litellm", "aisuite", "generativeai", "dspy", "crewai", "adk")
#: What the `latest` and `oldest` groups leave to the framework groups.
NOT_FRAMEWORKS = " ".join(f"--ignore=tests/integration/{f} --ignore-glob=tests/reliability/test_{f}*" for f in FRAMEWORKS)
NOT_FRAMEWORK_FOLDERS = " ".join(f"--ignore=tests/integration/{f}" for f in FRAMEWORKS)
GROUPS = "latest oldest genai-oldest " + " ".join(f"{f.replace('_', '-')}-{age}" for f in FRAMEWORKS for age in ("latest", "oldest"))


def _section(title: str) -> str:
    text = README.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _bash_blocks(section: str) -> list[list[str]]:
    """Each ```bash block of a section as its commands (comment-only lines and trailing comments dropped)."""
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    commands = []
    for block in blocks:
        lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.splitlines()]
        commands.append([line for line in lines if line and not line.startswith("#")])
    return commands


def test_quickstart_first_block_sets_up_runs_the_demo_and_the_tests() -> None:
    assert _bash_blocks(_section("Quickstart"))[0] == QUICKSTART


def test_quickstart_says_how_to_install_from_a_git_url_and_from_a_checkout() -> None:
    install = _bash_blocks(_section("Quickstart"))[1]
    assert install == [
        'pip install "opik-otel[openai] @ git+https://github.com/<org>/opik-otel"',
        'pip install -e "path/to/opik-otel[openai]"',
    ]


def test_development_sets_up_the_environments_the_test_command_uses() -> None:
    assert _bash_blocks(_section("Development"))[:2] == [[SETUP], [TEST]]
    assert "source .venvs/latest/bin/activate" in _section("Development")


def _working_tree_copy(destination: Path) -> Path:
    """The checkout as a fresh clone plus the uncommitted changes: tracked and untracked files,
    none of the ignored ones (environments, build output, egg-info)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    return destination


def test_quickstart_commands_run_in_a_fresh_copy(tmp_path: Path) -> None:
    """The README's first two commands, verbatim, in a copy of the checkout with only Python:
    a venv is built and the demo prints its trace tree (pip needs the package index)."""
    clone = _working_tree_copy(tmp_path / "opik-otel")
    env = clean_env(tmp_path)
    for name in ("VIRTUAL_ENV", "PYTHONHOME", "PIP_REQUIRE_VIRTUALENV"):
        env.pop(name, None)
    setup, demo = _bash_blocks(_section("Quickstart"))[0][:2]
    installed = subprocess.run(["bash", "-c", setup], cwd=clone, env=env, capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    shown = subprocess.run(["bash", "-c", demo], cwd=clone, env=env, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stdout + shown.stderr
    tree = [re.split(r"\s{2,}", line) for line in shown.stdout.splitlines() if re.match(r"ask\s{2,}|[├└]─ ", line)]
    assert [columns[0] for columns in tree] == [
        "ask", "├─ chat gpt-4o-mini llm", "├─ get_weather", "└─ chat gpt-4o-mini llm",
    ], shown.stdout
    assert tree[2][1] == "tool", shown.stdout
    assert re.search(r"\b108\D+37\b", tree[1][-1]) and re.search(r"\b161\D+18\b", tree[3][-1]), shown.stdout  # tokens in, out
    assert "It is 18 °C and sunny in Paris" in shown.stdout
    assert str(tmp_path / "xdg" / "opik-otel") in shown.stdout + shown.stderr  # where the trace was stored


def _plan(tmp_path: Path, *args: str, groups: str | None = None) -> subprocess.CompletedProcess:
    """`bash scripts/test.sh --dry-run ARGS` with no uv on PATH: the commands it would run, one a line."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in ("bash", "dirname"):
        if not (bin_dir / tool).exists():
            (bin_dir / tool).symlink_to(shutil.which(tool))
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path), "OPIK_OTEL_TEST_ENVS": str(tmp_path / "envs"),
           "PYTHON": str(tmp_path / "python3")}  # never executed in a dry run
    if groups is not None:
        env["OPIK_OTEL_TEST_GROUPS"] = groups
    return subprocess.run(
        [str(bin_dir / "bash"), str(TEST_SH), "--dry-run", *args], env=env, capture_output=True, text=True, timeout=30
    )


def _pytest_lines(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if " -m pytest " in line]


def test_test_command_installs_uv_into_its_own_venv_never_the_system_python(tmp_path: Path) -> None:
    result = _plan(tmp_path, groups="latest oldest")
    assert result.returncode == 0, result.stderr
    envs, python = tmp_path / "envs", tmp_path / "python3"
    lines = result.stdout.splitlines()
    assert lines[:2] == [f"{python} -m venv {envs}/.tools", f"{envs}/.tools/bin/python -m pip install -q uv"]
    installs = [line for line in lines if " install " in line]
    assert len(installs) == 3
    assert installs[1].startswith(f"{envs}/.tools/bin/uv pip install -q -p {envs}/latest/bin/python -e {ROOT}[")
    assert installs[2].startswith(f"{envs}/.tools/bin/uv pip install -q -p {envs}/oldest/bin/python -e {ROOT}[otlp] ")
    assert "openai==1.40.0" in installs[2].split()
    assert _pytest_lines(result.stdout) == [  # each framework's tests run only in its own groups
        f"cd {ROOT} && {envs}/latest/bin/python -m pytest -p no:cacheprovider {NOT_FRAMEWORKS} tests",
        f"cd {ROOT} && {envs}/oldest/bin/python -m pytest -p no:cacheprovider {NOT_FRAMEWORK_FOLDERS} "
        + " ".join(OLDEST_TESTS),
    ]


def test_setup_only_builds_the_same_environments_and_runs_no_tests(tmp_path: Path) -> None:
    full, setup = _plan(tmp_path, groups="latest oldest"), _plan(tmp_path, "--setup-only", groups="latest oldest")
    assert setup.returncode == 0, setup.stderr
    assert _pytest_lines(setup.stdout) == []
    assert [line for line in full.stdout.splitlines() if " -m pytest " not in line and not line.startswith("==")] == [
        line for line in setup.stdout.splitlines() if not line.startswith(("==", "Activate"))
    ]
    assert f"Activate the newest libraries' environment with: source {tmp_path / 'envs'}/latest/bin/activate" in setup.stdout


def test_test_command_runs_the_selected_tests_in_each_group_that_has_them(tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    one_file = _pytest_lines(_plan(tmp_path, "-x", "tests/unit/test_ids.py::test_x", "-k", "uuid").stdout)
    assert one_file == [
        f"cd {ROOT} && {envs}/latest/bin/python -m pytest -p no:cacheprovider -x -k uuid tests/unit/test_ids.py::test_x",
        f"cd {ROOT} && {envs}/oldest/bin/python -m pytest -p no:cacheprovider -x -k uuid tests/unit/test_ids.py::test_x",
    ]
    unit = _pytest_lines(_plan(tmp_path, "tests/unit").stdout)
    assert unit == [
        f"cd {ROOT} && {envs}/latest/bin/python -m pytest -p no:cacheprovider tests/unit",
        f"cd {ROOT} && {envs}/oldest/bin/python -m pytest -p no:cacheprovider "
        "tests/unit/test_fake_openai_server.py tests/unit/test_ids.py tests/unit/test_processor.py tests/unit/test_settings.py",
    ]
    cli = _plan(tmp_path, "tests/cli")
    assert _pytest_lines(cli.stdout) == [f"cd {ROOT} && {envs}/latest/bin/python -m pytest -p no:cacheprovider tests/cli"]
    assert "== test group: oldest: none of the selected tests run in this group" in cli.stdout
    only_oldest = _pytest_lines(_plan(tmp_path, "tests/tracking", groups="oldest").stdout)
    assert only_oldest == [f"cd {ROOT} && {envs}/oldest/bin/python -m pytest -p no:cacheprovider tests/tracking"]


def test_test_command_rejects_an_unknown_group(tmp_path: Path) -> None:
    result = _plan(tmp_path, groups="newest")
    assert result.returncode == 2
    assert result.stderr == f"unknown test group: newest (groups: {GROUPS})\n"


def test_langchain_groups_run_only_the_langchain_tests_with_the_oldest_and_newest_langchain(tmp_path: Path) -> None:
    envs = tmp_path / "envs"
    setup = _plan(tmp_path, "--setup-only", groups="langchain-latest langchain-oldest").stdout
    installs = [line.split() for line in setup.splitlines() if "/uv pip install " in line]
    assert [words[5] for words in installs] == [f"{envs}/langchain-latest/bin/python", f"{envs}/langchain-oldest/bin/python"]
    assert {"langchain-core", "langgraph", "langchain-openai", "langchain-anthropic", "opik>=1.8"} <= set(installs[0])
    assert {"langchain-core==0.3.23", "langgraph==0.2.57", "langchain-openai==0.2.12", "langchain-anthropic==0.3.0",
            "opik>=1.8"} <= set(installs[1])
    plan = _plan(tmp_path, "tests/integration", groups="latest oldest langchain-latest langchain-oldest").stdout
    assert _pytest_lines(plan) == [
        f"cd {ROOT} && {envs}/latest/bin/python -m pytest -p no:cacheprovider {NOT_FRAMEWORK_FOLDERS} tests/integration",
        f"cd {ROOT} && {envs}/oldest/bin/python -m pytest -p no:cacheprovider {NOT_FRAMEWORK_FOLDERS} tests/integration",
        f"cd {ROOT} && {envs}/langchain-latest/bin/python -m pytest -p no:cacheprovider tests/integration/langchain",
        f"cd {ROOT} && {envs}/langchain-oldest/bin/python -m pytest -p no:cacheprovider tests/integration/langchain",
    ]
    only_langchain = _pytest_lines(_plan(tmp_path, "tests/unit", "tests/integration/langchain", groups="latest").stdout)
    assert only_langchain == [f"cd {ROOT} && {envs}/latest/bin/python -m pytest -p no:cacheprovider tests/unit"]


def test_ci_runs_the_readme_test_command_and_installs_nothing_itself() -> None:
    lines = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert lines[-1] == f"exec {TEST}"
    assert not [line for line in lines if "install" in line], lines


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_each_framework_group_runs_only_that_frameworks_tests(tmp_path: Path, framework: str) -> None:
    envs, group = tmp_path / "envs", framework.replace("_", "-")
    plan = _pytest_lines(_plan(tmp_path, groups=f"{group}-latest {group}-oldest").stdout)
    reliability = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests" / "reliability").glob(f"test_{framework}*.py"))
    assert plan == [
        f"cd {ROOT} && {envs}/{group}-{age}/bin/python -m pytest -p no:cacheprovider tests/integration/{framework} {' '.join(reliability)}".rstrip()
        for age in ("latest", "oldest")
    ]
