"""The tinynet command, and the README's promises that CI keeps true."""

import re
import subprocess
import sys
from pathlib import Path

from tinynet.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_info_lists_every_backend_with_its_status(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for name in ("[numpy]", "[numba]", "[cupy]"):
        assert name in out
    assert "falls back" in out  # numba lists the kernels it leaves to the reference
    assert re.search(r"\[cupy\] (usable|not usable: .+)", out)


def test_lessons_list_shows_the_numbered_lessons(capsys):
    assert main(["lessons", "list"]) == 0
    out = capsys.readouterr().out
    assert "01_xor_by_hand" in out and "02_autograd" in out


def test_an_unknown_lesson_is_a_clear_error():
    result = subprocess.run([sys.executable, "-m", "tinynet", "lessons", "run", "99"], capture_output=True, text=True)
    assert result.returncode != 0 and "no lesson '99'" in result.stderr


def test_help_shows_examples():
    result = subprocess.run([sys.executable, "-m", "tinynet", "--help"], capture_output=True, text=True, check=True)
    assert "tinynet lessons run all --smoke" in result.stdout


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    test_command = re.search(r"```bash\n(.*pytest.*)\n```", readme).group(1)
    install, run = test_command.split(" && ")[-2:]  # after creating and activating the venv
    assert install == 'pip install -e ".[dev]"' and run == "python -m pytest"
    assert f"{install.replace('pip install', 'pip install --quiet')} && ruff check . && {run}" in ci
