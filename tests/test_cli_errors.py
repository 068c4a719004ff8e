"""Issue 14, class 7: every mistake in the `tinynet` command's input ends it with one line on stderr that says what
is wrong and the fix, a non-zero exit and no traceback, before any lesson starts; Ctrl-C says one line (exit 130);
a reader that goes away (`| head`) ends it silently. Each case runs the real command in its own process.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tinynet.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _tinynet(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tinynet", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})}, cwd=cwd)  # fmt: skip


def _one_line(result: subprocess.CompletedProcess) -> str:
    """The single stderr line of a refused command (and no lesson started: nothing on stdout)."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
    assert len(lines) == 1, result.stderr
    assert "### " not in result.stdout, result.stdout  # no lesson began
    return lines[0]


@pytest.mark.parametrize(
    ("args", "said"),
    [
        ([], r"tinynet: the following arguments are required: command; see `tinynet --help`"),
        (["nope"], r"invalid choice: 'nope'.*see `tinynet --help`"),
        (["info", "--bogus"], r"unrecognized arguments: --bogus; see `tinynet --help`"),
        (["lessons"], r"^tinynet lessons: .*required.*see `tinynet lessons --help`"),
        (["lessons", "run", "--out"], r"argument --out: expected one argument; see `tinynet lessons run --help`"),
        (["lessons", "run", "99"], r"no lesson '99'; see `tinynet lessons list`"),
        (["lessons", "run", "-1"], r"no lesson '-1'"),
        (["lessons", "run", "1.5"], r"no lesson '1.5'"),
        (["lessons", "run", "1", "--backend", ""], r"--backend is empty; choose one of: numpy, numba, cupy"),
        (["gradcheck", "--backend", "nope"], r"unknown backend 'nope'; choose one of: numpy, numba, cupy"),
        (["gradcheck", "--only", ","], r"--only ',' names nothing; give comma-separated names"),
        (["gradcheck", "--only", "no_such_op"], r"unknown op\(s\) no_such_op"),
        (["ops", "--only", ""], r"--only '' names nothing"),
        (["ops", "--only", "relu,no_such_op"], r"no op named no_such_op; `tinynet ops` lists them all"),
        (["doctor", "extra"], r"unrecognized arguments: extra"),
        (["bench", "--threads", "-2"], r"--threads -2 is negative; give a count"),
    ],
)
def test_wrong_arguments_give_one_line_and_the_fix(args, said):
    import re

    assert re.search(said, _one_line(_tinynet(*args)))


@pytest.mark.parametrize("command", [["info"], ["doctor"], ["ops", "--only", "relu"], ["gradcheck", "--only", "mul"],
                                     ["lessons", "list"], ["lessons", "run", "1"], ["bench", "--quick"]])  # fmt: skip
@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("TINYNET_BACKEND", "nope", "environment variable TINYNET_BACKEND=nope: unknown backend 'nope'; choose one of"),
        ("NUMBA_NUM_THREADS", "abc", "NUMBA_NUM_THREADS='abc' is not a positive whole number; set it"),
        ("NUMBA_NUM_THREADS", "-1", "NUMBA_NUM_THREADS='-1' is not a positive whole number"),
        ("TINYNET_CACHE", str(ROOT / "README.md"), "is a file, not a folder; point it to a folder, or unset it"),
    ],
)
def test_a_bad_environment_variable_stops_every_command_with_one_line(command, variable, value, said):
    line = _one_line(_tinynet(*command, env={variable: value}))
    assert line.startswith(f"tinynet {command[0]}: ") and said in line


@pytest.mark.parametrize("command", [["lessons", "run", "1"], ["bench", "--quick"]])
def test_an_out_folder_that_cannot_be_written_stops_before_any_lesson_or_benchmark(command, tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    for out, said in ((a_file, "it is a file, not a folder"), (a_file / "below", "Not a directory")):
        line = _one_line(_tinynet(*command, "--out", str(out)))
        assert (
            f"cannot write {'benchmark results' if 'bench' in command else 'lesson output'} to '{out}' ({said}); "
            "pass --out a folder you can write to" in line
        )


def test_a_read_only_out_folder_is_refused_by_its_permissions(tmp_path, monkeypatch):
    # As root (the test machines), a chmod 555 folder can still be written: only os.access's answer for an
    # ordinary user can be checked here, so it is given that answer.
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: False if Path(path) == folder else real_access(path, mode))
    with pytest.raises(SystemExit, match=r"cannot write lesson output to .*no write permission there.*pass --out"):
        main(["lessons", "run", "1", "--smoke", "--out", str(folder)])


def test_a_missing_package_is_named_with_its_install_command_before_any_lesson():
    code = "import sys; sys.modules['sklearn'] = None; from tinynet.cli import main; sys.exit(main(['lessons', 'run']))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert _one_line(result) == (
        "tinynet lessons run: the lessons need scikit-learn, not installed; fix: pip install scikit-learn"
    )


def test_a_lesson_run_directly_with_a_bad_out_says_one_line(tmp_path):
    (tmp_path / "a_file").write_text("")
    lesson = ROOT / "lessons" / "01_xor_by_hand.py"
    result = subprocess.run([sys.executable, str(lesson), "--out", str(tmp_path / "a_file" / "x")],
                            capture_output=True, text=True, timeout=300)  # fmt: skip
    assert "01_xor_by_hand: cannot write output to" in _one_line(result)


@pytest.mark.parametrize("command", [["info"], ["lessons", "list"], ["ops", "--missing"]])
def test_a_reader_that_goes_away_ends_the_command_quietly(command):
    with subprocess.Popen([sys.executable, "-m", "tinynet", *command], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:  # fmt: skip
        process.stdout.readline()  # as `| head -1` does: one line, then the pipe closes
        process.stdout.close()
        stderr = process.stderr.read()
        code = process.wait(timeout=300)
    assert stderr == "" and code in (0, 141)  # 0 when it had written everything before the pipe closed


def _interrupt_after(command: list[str], marker: str) -> subprocess.CompletedProcess:
    """Run ``command`` in its own process group, and press Ctrl-C (SIGINT to the group, as a terminal does)
    once ``marker`` appears on its stdout. The child gets SIGINT's default action back first: a test run started
    as a shell's background job (``pytest &``) ignores SIGINT, its children inherit that, and Python then
    leaves it ignored."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # fmt: skip
    out = ""
    while marker not in out:
        line = process.stdout.readline()
        assert line, f"ended before {marker!r}: {out}{process.stderr.read()}"
        out += line
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGINT)
    rest, stderr = process.communicate(timeout=300)
    return subprocess.CompletedProcess(command, process.returncode, out + rest, stderr)


def test_ctrl_c_stops_the_lesson_runner_with_one_line_and_exit_130(tmp_path):
    result = _interrupt_after([sys.executable, "-m", "tinynet", "lessons", "run", "--out", str(tmp_path)], "### 01")
    assert result.returncode == 130 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == "tinynet lessons run: interrupted (Ctrl-C) in 01_xor_by_hand"
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr  # the lesson itself says nothing
    assert "### 02" not in result.stdout and "### summary" not in result.stdout


def test_ctrl_c_stops_a_lesson_run_directly_with_one_line(tmp_path):
    lesson = ROOT / "lessons" / "07_mlp_digits.py"
    result = _interrupt_after([sys.executable, str(lesson), "--out", str(tmp_path)], "train:")
    assert result.returncode == -signal.SIGINT  # killed by SIGINT, as Python exits on Ctrl-C: 130 in a shell
    assert result.stderr.strip().splitlines() == ["07_mlp_digits: interrupted (Ctrl-C)"]
