"""What ``pip install roost`` gives: ``python -m build`` makes a wheel and an sdist that carry
every file Roost reads at run time (templates, assets); the wheel, installed into a fresh
virtualenv, gives a working ``roost`` command and the pytest plugin, which runs the example
integration suite (examples/python-nest) there, outside this source tree.

Slow (a build and an install, from pip's cache after the first run), so it runs once for the
whole module."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "python-nest"


def run(*cmd: str | Path, cwd: Path | None = None, timeout: float = 600) -> str:
    done = subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    assert done.returncode == 0, f"{cmd}\n{done.stdout}\n{done.stderr}"
    return done.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # From a copy: a build writes build/ and *.egg-info next to the sources.
    source = tmp_path_factory.mktemp("source") / "roost"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "__pycache__", "*.egg-info", "build", "dist", ".pytest_cache",
        ".ruff_cache", "*.db", "*.db-*"))
    run(sys.executable, "-m", "build", "--outdir", out, source)
    return out


def runtime_files() -> set[str]:
    """Every file of the package that is not Python source: what the server reads."""
    return {str(p.relative_to(ROOT)) for p in (ROOT / "roost").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}


def test_wheel_and_sdist_carry_the_templates_and_assets(dist: Path) -> None:
    (wheel,) = dist.glob("roost-*.whl")
    (sdist,) = dist.glob("roost-*.tar.gz")
    needed = runtime_files()
    assert any(name.endswith(".html") for name in needed)
    in_wheel = set(zipfile.ZipFile(wheel).namelist())
    assert needed <= in_wheel, sorted(needed - in_wheel)
    assert "roost/client/__init__.py" in in_wheel and "roost/testing/plugin.py" in in_wheel
    entry_points = next(n for n in in_wheel if n.endswith(".dist-info/entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[pytest11]" in text and "roost = roost.testing.plugin" in text
    with tarfile.open(sdist) as archive:
        top = archive.getnames()[0].split("/")[0]
        in_sdist = {name.removeprefix(top + "/") for name in archive.getnames()}
    assert needed <= in_sdist, sorted(needed - in_sdist)


def test_the_wheel_installs_a_command_and_the_plugin(dist: Path, tmp_path: Path) -> None:
    (wheel,) = dist.glob("roost-*.whl")
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python = venv / "bin" / "python"
    # pip's own cache is kept (no --no-cache-dir): after the first run nothing is downloaded.
    run(python, "-m", "pip", "install", "--quiet", wheel, "pytest", "python-nest==4.2.0")
    version = run(venv / "bin" / "roost", "--version")
    assert version.strip().startswith("roost, version ")
    assert version.count("\n") == 1
    # The example, copied out of the source tree, against the installed package.
    suite = tmp_path / "integration"
    shutil.copytree(EXAMPLE, suite, ignore=shutil.ignore_patterns("__pycache__"))
    where = run(python, "-c", "import roost; print(roost.__file__)", cwd=suite)
    assert str(venv) in where
    report = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=suite)
    assert " passed" in report and "failed" not in report
