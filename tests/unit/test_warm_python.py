"""The test harness's warm Python runs (``tests/warm_python.py``) look, from outside, like the
fresh interpreters they replace: each program below runs warm and cold, and both must agree."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests import warm_python

WARM = "import sys; print('warm' if 'openai' in sys.modules else 'cold', file=sys.stderr)"


@pytest.fixture(autouse=True)
def _warm_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the warm runs: on, even in a session run with the switch off."""
    monkeypatch.delenv(warm_python.SWITCH, raising=False)


PROGRAMS = {
    "argv, cwd, environment, stdin, both streams, exit code": """
        import os, sys
        print(sys.argv, os.path.basename(os.getcwd()), os.environ.get("WARM_PROBE"))
        print(sys.path[0] == "", sys.stdin.read().upper())
        print("to stderr", file=sys.stderr)
        sys.exit(3)
    """,
    "SystemExit with a message": "raise SystemExit('stopped: here is why')",
    "SystemExit(None)": "import sys; sys.exit(None)",
    "a large exit code": "import sys; sys.exit(300)",
    "an uncaught error": "def f():\n    raise ValueError('broken')\nf()",
    "a thread still writing when the main code ends": """
        import threading, time
        def late():
            time.sleep(0.2)
            print("the thread finished")
        threading.Thread(target=late).start()
    """,
    "atexit and an unflushed print": """
        import atexit, sys
        atexit.register(lambda: print("at exit"))
        sys.stdout.write("no newline, never flushed")
    """,
    "a KeyboardInterrupt": "raise KeyboardInterrupt",
    "stdout is block-buffered, stderr line-buffered, as in a fresh process": """
        import sys
        print(sys.stdout.line_buffering, sys.stderr.line_buffering, sys.stdout.encoding, sys.stdin.mode)
        print(sys.stdout.name, sys.stderr.name, sys.stderr.errors)
    """,
}


def both(args: list[str], **kwargs: object) -> tuple[subprocess.CompletedProcess[str], ...]:
    warm = warm_python.run(args, capture_output=True, text=True, timeout=60, **kwargs)  # type: ignore[arg-type]
    cold = warm_python.run(args, capture_output=True, text=True, timeout=60, cold=True, **kwargs)  # type: ignore[arg-type]
    return warm, cold


def last_line(text: str) -> str:
    """The last line written to stderr after the first (which says warm or cold)."""
    lines = [line for line in text.splitlines()[1:] if line.strip()]
    return lines[-1] if lines else ""


@pytest.mark.parametrize("program", list(PROGRAMS.values()), ids=list(PROGRAMS))
def test_a_program_warm_and_cold_gives_the_same_result(program: str, tmp_path: Path) -> None:
    code = f"{WARM}\n{textwrap.dedent(program)}"
    env = {**os.environ, "WARM_PROBE": "probe value"}
    warm, cold = both([sys.executable, "-c", code, "an argument"], cwd=tmp_path, env=env, input="stdin text")
    assert warm.stderr.splitlines()[0] == "warm"
    assert cold.stderr.splitlines()[0] == "cold"
    assert (warm.returncode, warm.stdout) == (cold.returncode, cold.stdout)
    assert last_line(warm.stderr) == last_line(cold.stderr)


def test_a_module_run_sees_pythonpath_and_its_own_file_as_argv0(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "probe_module.py").write_text(
        f"{WARM}\nimport os, sys\nprint(os.path.relpath(sys.argv[0]), sys.argv[1:], sys.path[0] == os.getcwd())\n"
        "print(__name__, sys.modules['__main__'].__file__ == __file__)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "lib")}
    warm, cold = both([sys.executable, "-m", "probe_module", "x", "--y"], cwd=tmp_path, env=env)
    assert (warm.stderr, cold.stderr) == ("warm\n", "cold\n")
    assert warm.stdout == cold.stdout == "lib/probe_module.py ['x', '--y'] True\n__main__ True\n"


def test_a_warm_run_is_a_real_process_that_can_be_killed() -> None:
    process = warm_python.WarmPopen(
        [sys.executable, "-c", f"{WARM}\nimport time\nprint('up', flush=True)\ntime.sleep(120)"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    assert process.stdout.readline() == "up\n"
    assert process.pid != os.getpid()
    assert process.poll() is None
    os.kill(process.pid, 0)  # a real pid
    started = time.monotonic()
    process.kill()
    assert process.wait(timeout=10) == -signal.SIGKILL
    assert time.monotonic() - started < 10
    assert process.stderr is not None
    assert process.stderr.read() == "warm\n"
    process.stdout.close()
    process.stderr.close()


def test_pytesters_timeout_stops_a_warm_run(pytester: pytest.Pytester) -> None:
    with pytest.raises(pytester.TimeoutExpired):
        pytester.run(sys.executable, "-c", "import time; time.sleep(120)", timeout=1)


def test_a_different_start_up_environment_runs_cold(tmp_path: Path) -> None:
    """PYTHONHASHSEED (and every PYTHON* but PYTHONPATH) is read when Python starts: a fork of
    the zygote cannot have another, so such a run gets a fresh interpreter."""
    code = f"{WARM}\nprint(hash('contracttape'))"
    seeded = {**os.environ, "PYTHONHASHSEED": "123"}
    warm = warm_python.run([sys.executable, "-c", code], env=seeded, capture_output=True, text=True)
    cold = warm_python.run(
        [sys.executable, "-c", code], env=seeded, capture_output=True, text=True, cold=True
    )
    assert warm.stderr == cold.stderr == "cold\n"
    assert warm.stdout == cold.stdout


def test_the_switch_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(warm_python.SWITCH, "0")
    done = warm_python.run([sys.executable, "-c", WARM], capture_output=True, text=True)
    assert done.stderr == "cold\n"


CHILD = "import subprocess, sys; subprocess.run([sys.executable, '-c', {probe!r}], check=True)"


def test_what_a_warm_run_starts_is_warm_but_not_after_a_preexec_function() -> None:
    """Inside a run, the Python processes it starts (the CLI's pytest, xdist's workers) are warm
    too; but a run that entered something with a preexec function (the replay's empty network
    namespace) must have its children start inside it, so they run cold."""
    child = CHILD.format(probe=WARM)
    done = warm_python.run([sys.executable, "-c", child], capture_output=True, text=True)
    assert done.stderr == "warm\n", done.stderr
    parent = f"import os, subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}], preexec_fn=os.setpgrp)"
    done = warm_python.run([sys.executable, "-c", parent], capture_output=True, text=True)
    assert done.stderr == "cold\n", done.stderr


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
def test_a_failing_preexec_function_is_an_exception_for_the_caller(cold: bool) -> None:
    """As ``Popen`` does: the replay falls back to the in-process block when it cannot enter a
    network namespace, which it learns from this exception."""
    with pytest.raises(subprocess.SubprocessError, match="preexec_fn"):
        warm_python.run([sys.executable, "-c", "print('never')"], preexec_fn=sys.exit, cold=cold)


def test_a_command_it_cannot_fork_runs_as_it_is() -> None:
    """Not our interpreter, a script path, flags it does not know: a normal process."""
    assert warm_python.run(["echo", "plain"], capture_output=True, text=True).stdout == "plain\n"
    done = warm_python.run([sys.executable, "-I", "-c", WARM], capture_output=True, text=True)
    assert done.stderr == "cold\n"


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling (before Linux 5.3)"])
def test_the_supervisor_reports_the_status_and_kills_a_run_whose_caller_went_away(
    pidfd: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open")
    ours, theirs = socket.socketpair()
    with ours, theirs:
        done = warm_python.COLD_POPEN([sys.executable, "-c", "import sys; sys.exit(7)"])
        status, usage = warm_python._wait_for(done.pid, ours)
        done.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        assert done.returncode == 7
        assert usage.ru_utime >= 0
        sleeper = warm_python.COLD_POPEN([sys.executable, "-c", "import time; time.sleep(120)"])
        theirs.close()  # the caller goes away
        started = time.monotonic()
        status, _usage = warm_python._wait_for(sleeper.pid, ours)
        sleeper.returncode = os.waitstatus_to_exitcode(status)
        assert sleeper.returncode == -signal.SIGKILL
        assert time.monotonic() - started < 10


def test_replies_are_read_a_line_at_a_time_however_they_arrive() -> None:
    """A quick run's ``pid`` and ``exit`` lines can come in one read (this was a flake under
    load: the pid line was read with the exit line stuck to it), or a line in pieces."""
    ours, theirs = socket.socketpair()
    with ours, theirs:
        replies = warm_python._Replies(ours)
        theirs.sendall(b"pid 5\nexit 0\n")
        assert replies.line(block=True) == b"pid 5"
        assert replies.line(block=False) == b"exit 0"
        assert replies.line(block=False) is None
        theirs.sendall(b"pi")
        assert replies.line(block=False) is None
        theirs.sendall(b"d 6\nex")
        assert replies.line(block=False) == b"pid 6"
        assert replies.line(block=False) is None
        theirs.sendall(b"it 256\n")
        assert replies.line(block=True) == b"exit 256"
        theirs.close()
        assert replies.line(block=True) == b""  # the zygote has gone


def test_many_quick_runs_at_once_all_report_their_own_exit_code() -> None:
    from concurrent.futures import ThreadPoolExecutor

    def quick(n: int) -> int:
        return warm_python.run([sys.executable, "-c", f"import sys; sys.exit({n})"]).returncode

    with ThreadPoolExecutor(8) as pool:
        assert list(pool.map(quick, range(60))) == list(range(60))
