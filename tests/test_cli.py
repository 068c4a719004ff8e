"""The tinynet command, and the README's promises that CI keeps true."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from numba_marks import jit_compiles, numba_usable

import tinynet as tn
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


def _tinynet(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinynet", *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    "command", [["info"], ["doctor"], ["gradcheck"], ["lessons"], ["lessons", "run"], ["lessons", "list"]]
)
def test_every_command_shows_an_example_in_its_help(command):
    result = _tinynet(*command, "--help")
    assert result.returncode == 0 and "example" in result.stdout and f"tinynet {command[0]}" in result.stdout


def test_gradcheck_checks_every_builtin_op_and_prints_a_table(capsys):
    assert main(["gradcheck", "--only", "mul,conv2d,attention"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("  ") and "ms" in line]
    assert [row[0] for row in rows] == ["mul", "conv2d", "attention"] and all(
        " ok " in f" {' '.join(r)} " for r in rows
    )
    assert "3 of 3 ops passed" in out


def test_gradcheck_reports_a_wrong_backward_and_fails(capsys, monkeypatch):
    from tinynet.functions.activations import ReLU

    monkeypatch.setattr(ReLU, "backward", staticmethod(lambda ctx, grad: grad))  # forgets the mask
    assert main(["gradcheck", "--only", "relu,tanh"]) == 1
    out = capsys.readouterr().out
    assert "relu" in out and "FAILED: gradcheck: input 0" in out and "1 of 2 ops passed" in out


def test_the_catalogue_covers_every_differentiable_op():
    import importlib
    import inspect
    import pkgutil

    import tinynet.functions
    from tinynet import catalogue
    from tinynet.autograd import Function

    defined = set()
    for module_info in pkgutil.iter_modules(tinynet.functions.__path__):
        module = importlib.import_module(f"tinynet.functions.{module_info.name}")
        defined |= {
            name for name, obj in vars(module).items()
            if inspect.isclass(obj) and issubclass(obj, Function) and obj.__module__ == module.__name__
        }  # fmt: skip
    with tn.trace(file=None) as traced:
        for _, fn, inputs, _ in catalogue.cases():
            fn(*inputs).sum().backward()
    assert defined - {op for _, _, op, _ in traced.records} == set()


def test_doctor_passes_here_and_names_a_missing_package_with_its_fix(capsys, monkeypatch, tmp_path):
    from tinynet import doctor

    monkeypatch.chdir(tmp_path)
    # (Compiling a kernel in a fresh process takes seconds: the numba tests cover it.)
    monkeypatch.setattr(doctor, "CHECKS", [(name, check) for name, check in doctor.CHECKS if name != "numba"])
    assert main(["doctor"]) == 0
    assert "ok   packages  all 7 required packages installed" in capsys.readouterr().out
    monkeypatch.setitem(doctor.REQUIRED, "tinynet_no_such_module", "tinynet-no-such-package")
    assert main(["doctor"]) == 1
    out = capsys.readouterr().out
    assert (
        "FIX  packages  missing: tinynet-no-such-package" in out and "fix: pip install tinynet-no-such-package" in out
    )


def test_an_unusable_backend_stops_the_lesson_runner_with_one_line():
    result = _tinynet("lessons", "run", "1", "--backend", "jax")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "tinynet lessons run: unknown backend 'jax'; choose one of: numpy, numba, cupy"
    ]
    direct = subprocess.run(
        [sys.executable, str(ROOT / "lessons" / "01_xor_by_hand.py"), "--backend", "jax"],
        capture_output=True,
        text=True,
    )
    assert direct.returncode != 0 and "Traceback" not in direct.stderr and "unknown backend 'jax'" in direct.stderr


def test_a_bad_backend_in_the_environment_and_an_unwritable_out_folder_give_one_line(tmp_path, monkeypatch):
    import subprocess
    import sys

    env = {**__import__("os").environ, "TINYNET_BACKEND": "nope"}
    for command in (["info"], ["lessons", "run", "1", "--smoke"]):
        done = subprocess.run([sys.executable, "-m", "tinynet", *command], env=env, capture_output=True, text=True)
        assert done.returncode != 0 and "Traceback" not in done.stderr
        assert done.stderr.strip().endswith("unknown backend 'nope'; choose one of: numpy, numba, cupy")
    (tmp_path / "a_file").write_text("")
    with pytest.raises(SystemExit, match=r"cannot write lesson output to .*pass --out a folder you can write to"):
        main(["lessons", "run", "1", "--smoke", "--out", str(tmp_path / "a_file" / "below")])


def test_the_lesson_runner_defaults_to_numba_for_full_runs_and_the_reference_for_smoke_runs(monkeypatch):
    from tinynet import backend
    from tinynet.cli import default_lesson_backend

    monkeypatch.delenv("TINYNET_BACKEND", raising=False)
    assert default_lesson_backend(smoke=True) == "numpy"  # compiling costs more than a smoke run computes
    assert default_lesson_backend(smoke=False) == ("numba" if backend.status("numba")[0] else "numpy")
    monkeypatch.setenv("TINYNET_BACKEND", "numba")
    assert default_lesson_backend(smoke=True) == "numba"  # the user's choice wins


@numba_usable
@jit_compiles
def test_warmup_gives_each_family_and_dtype_to_the_first_free_process(tmp_path):
    """Two processes, four (family, dtype) pairs into an empty cache: each pair compiled once, by one of them, and
    none left for the command's own process."""
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    command = [sys.executable, "-m", "tinynet", "warmup", "--only", "optim,embedding", "--jobs", "2"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    shares = re.findall(r"^  compiled (.+): [\d.]+ s, ok$", result.stdout, flags=re.MULTILINE)
    assert len(shares) == 2, result.stdout
    pairs = [pair for share in shares for pair in share.split(", ") if share != "nothing"]
    assert sorted(pairs) == ["embedding float32", "embedding float64", "optim float32", "optim float64"]
    assert any(path.suffix == ".nbi" for path in tmp_path.rglob("*"))  # Numba's cache index, written by them
    assert "in this process" not in result.stdout


@numba_usable
def test_warmup_compiles_what_its_processes_did_not(monkeypatch, capsys):
    """Processes that fail (here: each exits at once) only cost time: the command's own process compiles the pairs
    they left, says which, and succeeds."""
    from tinynet import cli

    monkeypatch.setattr(cli, "_WARMUP_WORKER", "import sys; sys.exit(3)")
    assert main(["warmup", "--only", "dropout", "--jobs", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("compiled nothing") == 2 and out.count("FAILED (exit 3)") == 2, out
    assert "  compiled dropout float32, dropout float64 in this process" in out, out


@numba_usable
@jit_compiles
def test_warmup_processes_compile_this_checkout_whatever_folder_it_runs_in(tmp_path):
    """Run from a folder holding a `kernels` package of its own (another checkout, a user's project), the warm-up's
    processes still compile this checkout's kernels: they once imported the folder's, failed, and left all the
    compiling to the command's own process."""
    decoy = tmp_path / "project" / "kernels"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text('raise ImportError("not tinynet\'s kernels")\n')
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    # -I: the command's own process does not put that folder first either (as the installed `tinynet` script)
    command = [sys.executable, "-I", "-m", "tinynet", "warmup", "--only", "embedding,elementwise", "--jobs", "2"]
    result = subprocess.run(command, capture_output=True, text=True, env=env, cwd=decoy.parent, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    shares = re.findall(r"^  compiled (.+): [\d.]+ s, (.+)$", result.stdout, flags=re.MULTILINE)
    assert len(shares) == 2 and all(status == "ok" for _, status in shares), result.stdout
