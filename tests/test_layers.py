"""The layers hold: storage imports nothing that decides, and each layer only those below it
(the contracts in pyproject.toml, checked by import-linter on the real import graph)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def lint(project: Path) -> subprocess.CompletedProcess[str]:
    """import-linter on `project` (a folder with pyproject.toml and monitor/), as CI runs it."""
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo", str(project / "pyproject.toml")],
        cwd=project,
        env={"PYTHONPATH": str(project), "PATH": str(LINT.parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_import_contracts_are_kept() -> None:
    result = lint(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "imports", "broken"),
    [
        ("storage/stories.py", "monitor.pipeline.stories", "storage is persistence only"),
        ("storage/channel_state.py", "monitor.channels.pacing", "storage is persistence only"),
        ("rules/matcher.py", "monitor.pipeline.match", "layers"),
        ("channels/base.py", "monitor.rules", "layers"),
        ("pipeline/backtest.py", "monitor.web", "layers"),  # the web view sits above
        ("storage/feeds.py", "monitor.feedhealth", "storage is persistence only"),
        ("feedhealth.py", "monitor.pipeline", "layers"),  # siblings, independent
    ],
)
def test_an_import_against_the_layers_breaks_a_contract(
    tmp_path: Path, module: str, imports: str, broken: str
) -> None:
    shutil.copytree(ROOT / "monitor", tmp_path / "monitor", ignore=shutil.ignore_patterns("demo"))
    (tmp_path / "monitor" / "demo").mkdir()
    (tmp_path / "monitor" / "demo" / "__init__.py").write_text("")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    target = tmp_path / "monitor" / module
    target.write_text(target.read_text() + f"\nimport {imports}  # noqa\n")
    result = lint(tmp_path)
    assert result.returncode == 1, result.stdout
    assert f"{broken}" in result.stdout and "BROKEN" in result.stdout
